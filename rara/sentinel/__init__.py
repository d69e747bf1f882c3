"""The sentinel: watches news feeds, a webhook and the candles of the traded symbols, classifies
what it sees (keyword rules offline, the configured LLM when asked, validated, rules behind it),
records every signal as an event and locks a symbol in the risk gate on a critical one.

- `feeds`: RSS/Atom over http(s) with conditional GETs, or local files (feedparser);
- `webhook`: a token-guarded endpoint on 127.0.0.1;
- `market`: volatility jump, gap and volume spike from the last bar;
- `classify`: severity and affected symbols, by rules or the LLM;
- `sentinel`: the whole (`Sentinel`: poll, classify, act, record);
- `component`: `SentinelComponent`, the daemon's supervised loop;
- `build`: `build_sentinel`, a `Sentinel` from a home's settings and secrets;
- `dry_run`: `rara sentinel test`, which writes nothing.
"""

from rara.sentinel.build import build_sentinel
from rara.sentinel.component import SentinelComponent
from rara.sentinel.sentinel import Raised, Sentinel

__all__ = ["Raised", "Sentinel", "SentinelComponent", "build_sentinel"]
