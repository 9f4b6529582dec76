"""The running service's state: settings, the loaded searcher (or why it is not ready), the feedback store."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from qa.config import Settings
from qa.encoder import load_encoder
from qa.errors import QAError
from qa.index import load_index
from qa.search import Searcher, SearchResult
from qa.store import Store

log = logging.getLogger(__name__)


@dataclass
class Service:
    settings: Settings
    searcher: Searcher | None = None
    not_ready: str | None = "starting"
    store: Store = field(init=False)

    def __post_init__(self) -> None:
        self.store = Store(self.settings.database_url)

    def load(self) -> None:
        """Load model and index; on a domain error stay up but not ready, with the reason."""
        try:
            index = load_index(self.settings.index_dir, self.settings.model, self.settings.corpus_dir)
            encoder = load_encoder(self.settings.model, self.settings.models_dir, threads=self.settings.threads)
            searcher = Searcher(index, encoder, self.settings)
            # The first query pays for jieba's dictionary and the encoder's weights: pay it here.
            searcher.search("住房公积金怎么提取", k=1)
            self.searcher = searcher
            self.not_ready = None
            log.info("index %s loaded: %d entries", index.folder, len(index.entries))
        except QAError as exc:
            self.searcher = None
            self.not_ready = str(exc)
            log.error("not ready: %s", exc)

    def note_unanswered(self, result: SearchResult, channel: str) -> None:
        """Keep a question we could not answer for the editors (never fails the request)."""
        if not result.answered:
            top = result.hits[0] if result.hits else None
            self.store.add_unanswered(result.query, top.id if top else None, top.score if top else None, channel)
