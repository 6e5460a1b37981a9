"""Helpers for worker processes a lutnas command starts (search evaluators, model-file
exporters): they end with their parent and leave Ctrl-C to it."""

from __future__ import annotations

import os
import signal
import threading
import time


def exit_with_parent(parent_pid: int, every_s: float = 0.5) -> None:
    """End this worker when its parent is gone (killed with -9, say), so no orphan keeps
    ~1 GB of torch and a CPU busy: a daemon thread watches the parent pid."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(every_s)
        os._exit(1)  # the parent cannot collect a result any more

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def leave_interrupts_to_parent() -> None:
    """Ignore Ctrl-C here (the terminal sends it to the whole process group: the parent
    decides what stops), and turn SIGTERM into ``SystemExit`` so ``finally`` blocks run when
    the parent terminates this worker (e.g. a half-written temporary file is removed)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
