"""The running service's state: settings, the loaded searcher (or why it is not ready), the feedback store."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa import heap
from qa.config import Settings
from qa.encoder import load_encoder
from qa.errors import QAError
from qa.index import current_build, load_index
from qa.metrics import Metrics
from qa.search import Searcher, SearchResult
from qa.store import Feedback, Store, StoreUnavailable
from qa.text import normalise
from qa.understand import Understanding, understand

log = logging.getLogger(__name__)


@dataclass
class Service:
    settings: Settings
    searcher: Searcher | None = None
    not_ready: str | None = "starting"
    store: Store = field(init=False)
    metrics: Metrics = field(init=False)

    def __post_init__(self) -> None:
        self.store = Store(self.settings.database_url)
        self.metrics = Metrics(self)
        self._reload_lock = threading.Lock()
        slots = self.settings.search_concurrency or max(1, (os.cpu_count() or 1) // self.settings.workers)
        self._search_slots = slots
        self._limiter: Any = None

    async def search(self, searcher: Searcher, question: str, k: int, categories: list[str] | None) -> SearchResult:
        """Run a search in a worker thread, at most ``search_concurrency`` at once in this process.

        With 16 searches in flight on 2 cores each took 28 ms of CPU; two at a time, 20 ms, and
        the process answered 41 → 63 requests/s (`qa soak --seconds 15 --concurrency 16`).
        """
        import anyio.to_thread

        again = searcher.cached(question, k, categories)  # a repeat needs no thread and no slot
        if again is not None:
            return again
        return await anyio.to_thread.run_sync(searcher.search, question, k, categories,
                                              limiter=self._limiter_for_loop())

    def understand(self, searcher: Searcher, question: str, k: int, categories: list[str] | None,
                   session_id: str | None = None, entry_id: str | None = None) -> Understanding:
        """One conversational turn: read the question with the session's last one (a follow-up),
        or answer ``entry_id`` when the resident picked it from a clarifying question; then keep
        what the question was understood as for the session's next turn."""
        settings = self.settings
        if entry_id is not None:
            taken = Understanding(result=searcher.pick(entry_id, question, k, categories), searched=question)
        else:
            previous = self.store.last_question(session_id, settings.session_ttl_seconds) if session_id else None
            taken = understand(searcher, question, k, categories, previous)
        if session_id:
            self.store.remember_question(session_id, normalise(taken.searched), settings.session_ttl_seconds,
                                         settings.sessions_max)
        return taken

    async def ask(self, searcher: Searcher, question: str, k: int, categories: list[str] | None,
                  session_id: str | None = None, entry_id: str | None = None) -> Understanding:
        """``understand`` in a worker thread, within the same ``search_concurrency`` slots as ``search``."""
        import anyio.to_thread

        return await anyio.to_thread.run_sync(self.understand, searcher, question, k, categories, session_id,
                                              entry_id, limiter=self._limiter_for_loop())

    def _limiter_for_loop(self) -> Any:
        import asyncio

        import anyio

        loop = asyncio.get_running_loop()
        if self._limiter is None or self._limiter[0] is not loop:  # a limiter belongs to one event loop
            self._limiter = (loop, anyio.CapacityLimiter(self._search_slots))
        return self._limiter[1]

    def _searcher_for_current_build(self) -> Searcher:
        index = load_index(self.settings.index_dir, self.settings.model, self.settings.corpus_dir,
                           nprobe=self.settings.nprobe)
        old = self.searcher
        encoder = old.encoder if old is not None else \
            load_encoder(self.settings.model, self.settings.models_dir, threads=self.settings.threads)
        searcher = Searcher(index, encoder, self.settings)
        # The first query pays for jieba's dictionary and the encoder's weights: pay it here.
        searcher.search("住房公积金怎么提取", k=1)
        return searcher

    def load(self) -> None:
        """Load model and index; on a domain error stay up but not ready, with the reason."""
        try:
            self.searcher = self._searcher_for_current_build()
            self.not_ready = None
            heap.settle()
            log.info("index %s loaded: %d entries", self.searcher.index.folder, len(self.searcher.index.entries))
        except QAError as exc:
            self.searcher = None
            self.not_ready = str(exc)
            log.error("not ready: %s", exc)

    def loaded_build(self) -> Path | None:
        return self.searcher.index.folder if self.searcher is not None else None

    def reload(self) -> dict[str, object]:
        """Load the current build beside the one serving, then swap it in whole.

        Requests already running keep the searcher they started with; new ones get the new
        one. A build that fails to load raises (``IndexCorrupt``, ``IndexMismatch`` …) and
        the old one keeps serving.
        """
        with self._reload_lock:
            before = self.loaded_build()
            target = current_build(self.settings.index_dir)
            if before is not None and target is not None and target.resolve() == before.resolve():
                return {"reloaded": False, "build": before.name, "reason": "already serving the current build"}
            searcher = self._searcher_for_current_build()
            self.searcher = searcher  # one attribute assignment: atomic for every reader
            self.not_ready = None
            heap.settle()
            log.info("reloaded index %s (was %s)", searcher.index.folder.name, before.name if before else None)
            return {"reloaded": True, "build": searcher.index.folder.name, "previous": before.name if before else None,
                    "entries": len(searcher.index.entries)}

    def watch(self, every: float) -> threading.Thread:
        """Reload whenever ``index/CURRENT`` names a new build (``qa serve --watch``)."""
        stop = threading.Event()

        def loop() -> None:
            refused: Path | None = None
            while not stop.wait(every):
                target = current_build(self.settings.index_dir)
                loaded = self.loaded_build()
                if target is None or target == refused or (loaded is not None and target == loaded):
                    continue
                try:
                    self.reload()
                    refused = None
                except QAError as exc:  # keep serving the old build; say why once per bad build
                    refused = target
                    log.error("new build %s refused, still serving %s: %s", target.name,
                              loaded.name if loaded else None, exc)

        thread = threading.Thread(target=loop, name="qa-index-watch", daemon=True)
        thread.stop = stop  # type: ignore[attr-defined]
        thread.start()
        return thread

    def record_feedback(self, item: Feedback) -> int:
        """Store 👍/👎 (API and chat alike); a failed write is counted for /metrics and raised."""
        try:
            return self.store.add_feedback(item)
        except StoreUnavailable:
            self.metrics.store_failures.inc()
            raise

    def note_query(self, result: SearchResult, channel: str) -> None:
        """Keep the question and what it got, for the editors' reports (never fails the request)."""
        self.metrics.question(result.answered, channel)
        if not self.store.add_query(*_logged(result), channel):
            self.metrics.store_failures.inc()

    async def note_query_async(self, result: SearchResult, channel: str) -> None:
        """``note_query`` on the event loop (the API's routes), without a thread per request."""
        self.metrics.question(result.answered, channel)
        if not await self.store.add_query_async(*_logged(result), channel):
            self.metrics.store_failures.inc()


def _logged(result: SearchResult) -> tuple[str, bool, str | None, str | None, float | None]:
    """What the queries log keeps of a result: the question, answered or not, and its first hit."""
    top = result.hits[0] if result.hits else None
    return (result.query, result.answered, top.id if top else None, top.category if top else None,
            top.score if top else None)


def index_problem(settings: Settings) -> str | None:
    """Why the current build cannot be served (``qa serve`` checks before starting workers), or None."""
    try:
        load_index(settings.index_dir, settings.model, settings.corpus_dir, nprobe=settings.nprobe)
    except QAError as exc:
        return str(exc)
    return None
