"""`rara run`: the daemon that closes the loop. One asyncio process supervising components
(research, one trading engine per deployed strategy and account, feedback, the sentinel), each a
blocking loop in its own thread that reports progress from inside its work.

- the `Component` port and its `Progress` heartbeat are in `rara.supervision`;
- `supervisor`: one-for-one restarts with backoff and a cap per window, stall detection, the
  systemd watchdog; a trading component is never silently restarted (its strategy halts);
- `instance`: the single-instance lock per ``$RARA_HOME``;
- `notify`: systemd's ``sd_notify`` protocol (READY=1, WATCHDOG=1, STOPPING=1) over
  ``$NOTIFY_SOCKET``;
- `status`: what `rara status` reads: the daemon's components, written to the state DB;
- `app`: the composition root: start-up in order (verify, rebuild, reconcile, arm, ready), the
  components, signals, stop.
"""
