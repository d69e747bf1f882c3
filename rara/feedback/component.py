"""The feedback evaluator as a daemon component (`rara.supervision.Component`): a pass of
`FeedbackEvaluator.evaluate_once` every ``interval_s`` seconds, a heartbeat after each, until
the supervisor stops it. A crash is restarted with backoff (restart "always"): every decision
has a deterministic event id, so a pass that runs again appends nothing twice."""

from __future__ import annotations

import threading
from typing import Literal

from rara.feedback.evaluator import FeedbackEvaluator
from rara.supervision import Progress, RestartPolicy

IDLE_BEAT_S = 5.0  # while waiting for the next pass, beat this often: waiting is not stalling


class FeedbackComponent:
    """Judges paper and live strategies on an interval."""

    name = "feedback"
    kind: Literal["feedback"] = "feedback"
    restart: RestartPolicy = "always"

    def __init__(self, evaluator: FeedbackEvaluator, interval_s: float) -> None:
        self.evaluator = evaluator
        self.interval_s = interval_s
        self.passes = 0

    def run(self, progress: Progress, stopping: threading.Event) -> None:
        while not stopping.is_set():
            appended = self.evaluator.evaluate_once()
            self.passes += 1
            progress.beat(f"pass {self.passes}: {len(appended)} decision event(s)")
            left = self.interval_s
            while left > 0 and not stopping.wait(min(left, IDLE_BEAT_S)):
                left -= IDLE_BEAT_S
                progress.beat()
