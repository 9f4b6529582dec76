"""Child processes that must not outlive their parent.

A ``qa build`` helper and the workers of ``qa serve --workers N`` are spawned by multiprocessing.
When their parent is killed outright (``kill -9``, the OOM killer), nothing tells them: a pool
worker holds both ends of its task pipe and waits for work forever, and a uvicorn worker keeps
serving on the inherited socket, unsupervised, holding the port a restarted server needs.
``follow_parent`` watches for the parent to go and then leaves.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable

CHECK_SECONDS = 0.5


def exit_now() -> None:
    os._exit(1)


def stop_gracefully() -> None:
    """SIGTERM to this process: a server finishes its in-flight requests, then exits."""
    os.kill(os.getpid(), signal.SIGTERM)


def follow_parent(parent: int, leave: Callable[[], None] = exit_now) -> None:
    """Call ``leave`` once process ``parent`` is no longer this process's parent (it died and this
    one was adopted). Checked every ``CHECK_SECONDS`` by a daemon thread."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(CHECK_SECONDS)
        leave()

    threading.Thread(target=watch, name="follow-parent", daemon=True).start()
