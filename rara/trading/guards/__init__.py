"""The risk gate's parts: its inputs and verdicts (`model`) and its guards (`checks`). Callers use
`rara.trading.risk`, which puts them together in `judge`."""
