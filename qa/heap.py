"""Short full passes of Python's cycle collector in a long-running server.

A loaded index is hundreds of thousands of long-lived objects, and a full collection walks every
tracked object: 150 ms with the 7,800-entry index loaded, a pause on the event loop every few
seconds under load, which was the p99 of ``/v1/search`` (`qa bench`). Objects that survive a full
pass are long-lived, so they are frozen (``gc.freeze``): later passes walk only what is newer.

A frozen object that later becomes garbage in a reference cycle is not collected until thawed
(reference counting still frees everything else, which is nearly all of it), so every
``THAW_SECONDS`` the heap is thawed, collected whole once, and frozen again: one full pause per
interval instead of one every few seconds, and such cycles live at most that long.
"""

from __future__ import annotations

import gc
import threading
from typing import Any

THAW_SECONDS = 600.0

_lock = threading.Lock()
_stop: threading.Event | None = None
_users = 0  # apps running in this process (tests run several): the last one out undoes it


def settle() -> None:
    """Collect everything once and freeze what survives (after loading an index)."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _freeze_after_full_pass(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop" and info.get("generation") == 2:
        gc.freeze()


def keep_passes_short(thaw_every: float = THAW_SECONDS) -> None:
    """Freeze survivors of every full pass from now on, thawing every ``thaw_every`` seconds
    (a daemon thread). Each call is undone by one ``stop_keeping``."""
    global _stop, _users
    with _lock:
        _users += 1
        if _stop is not None:
            return
        stop = _stop = threading.Event()
        gc.callbacks.append(_freeze_after_full_pass)

        def thaw() -> None:
            while not stop.wait(thaw_every):
                settle()

        threading.Thread(target=thaw, name="qa-heap-thaw", daemon=True).start()


def stop_keeping() -> None:
    """Back to the collector's defaults, everything thawed, once no app keeps them short."""
    global _stop, _users
    with _lock:
        _users = max(0, _users - 1)
        if _users or _stop is None:
            return
        _stop.set()
        _stop = None
        gc.callbacks.remove(_freeze_after_full_pass)
        gc.unfreeze()
