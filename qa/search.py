"""Hybrid search: lexical and dense channels fused into one calibrated score per entry.

Both channels score every phrasing (question or alternate) of an entry, and an
entry takes its best phrasing. The fused score is a weighted sum of the dense
cosine and the normalised BM25 score, plus a small bonus when both channels put
the same entry first (they agree far more often when right than when wrong).
``answered`` is the fused score of the top entry against a threshold; below it
the closest entries are offered as suggestions instead of an answer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.config import Settings
from qa.errors import EntryNotFound
from qa.index import LoadedIndex
from qa.text import normalise

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


@dataclass
class Source:
    title: str
    doc_no: str
    issuer: str
    url: str
    status: str


@dataclass
class Hit:
    id: str
    question: str
    answer: str
    score: float
    category: str
    sources: list[Source]
    dense: float = 0.0
    lexical: float = 0.0


@dataclass
class SearchResult:
    query: str
    answered: bool
    hits: list[Hit]
    took_ms: float
    suggestions: list[str] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        """The ``/v1/search`` response body."""
        return {
            "query": self.query,
            "answered": self.answered,
            "hits": [
                {
                    "id": h.id, "question": h.question, "answer": h.answer, "score": round(h.score, 4),
                    "category": h.category, "sources": [s.__dict__ for s in h.sources],
                }
                for h in self.hits
            ],
            "suggestions": self.suggestions,
            "took_ms": round(self.took_ms, 2),
        }


def _sources(entry: dict[str, Any]) -> list[Source]:
    return [
        Source(title=p["title"], doc_no=p.get("doc_no", ""), issuer=p["issuer"], url=p["url"], status=p["status"])
        for p in entry.get("sources", [])
    ]


class Searcher:
    """``Searcher(index, encoder, settings).search(question, k) -> SearchResult``."""

    def __init__(self, index: LoadedIndex, encoder: SentenceTransformer, settings: Settings) -> None:
        import faiss

        faiss.omp_set_num_threads(settings.threads)
        self.index = index
        self.encoder = encoder
        self.settings = settings
        self._owners = index.owners
        self._n_entries = len(index.entries)

    def entry(self, entry_id: str) -> dict[str, Any]:
        try:
            return self.index.by_id[entry_id]
        except KeyError:
            raise EntryNotFound(f"no entry with id {entry_id!r}") from None

    def _entry_max(self, rows: np.ndarray, scores: np.ndarray) -> dict[int, float]:
        best: dict[int, float] = {}
        for row, score in zip(rows.tolist(), scores.tolist(), strict=True):
            entry = int(self._owners[row])
            if score > best.get(entry, -1.0):
                best[entry] = score
        return best

    def channel_scores(self, question: str) -> tuple[dict[int, float], dict[int, float]]:
        """Best dense and lexical score per candidate entry (union of both channels' top phrasings)."""
        from qa.encoder import encode

        text = normalise(question)
        c = min(self.settings.candidates, len(self._owners))
        query = encode(self.encoder, [text])
        d_scores, d_rows = self.index.dense.search(query, c)
        dense = self._entry_max(d_rows[0][d_rows[0] >= 0], d_scores[0][d_rows[0] >= 0])

        lex_all = self.index.lexical.scores(self.index.tokenizer.tokens(text))
        top = np.argpartition(-lex_all, c - 1)[:c] if c < len(lex_all) else np.arange(len(lex_all))
        lexical = self._entry_max(top, lex_all[top])

        # Entries found by one channel only: fill in the other channel's exact score.
        for entry in set(lexical) - set(dense):
            rows = np.arange(self.index.first_row[entry], self.index.first_row[entry + 1])
            vecs = self.index.dense.reconstruct_batch(rows)
            dense[entry] = float((vecs @ query[0]).max())
        for entry in set(dense) - set(lexical):
            lo, hi = self.index.first_row[entry], self.index.first_row[entry + 1]
            lexical[entry] = float(lex_all[lo:hi].max())
        return dense, lexical

    def fuse(self, dense: dict[int, float], lexical: dict[int, float], dense_weight: float) -> dict[int, float]:
        """One score per entry: weighted dense + lexical, bonus when both channels agree on the top entry."""
        fused = {e: dense_weight * dense[e] + (1 - dense_weight) * lexical[e] for e in dense}
        if dense and lexical and 0 < dense_weight < 1:
            top_dense = max(dense, key=dense.__getitem__)
            top_lexical = max(lexical, key=lexical.__getitem__)
            if top_dense == top_lexical:
                fused[top_dense] += self.settings.agreement_bonus
        return fused

    def rank(self, dense: dict[int, float], lexical: dict[int, float], dense_weight: float | None = None,
             categories: list[str] | None = None) -> list[tuple[int, float]]:
        """Candidate entries as (entry row, fused score), best first."""
        weight = self.settings.dense_weight if dense_weight is None else dense_weight
        fused = self.fuse(dense, lexical, weight)
        ranked = sorted(fused.items(), key=lambda item: item[1], reverse=True)
        if categories:
            wanted = set(categories)
            ranked = [(e, s) for e, s in ranked if self.index.entries[e]["category"] in wanted]
        return ranked

    def search(self, question: str, k: int = 5, categories: list[str] | None = None,
               dense_weight: float | None = None) -> SearchResult:
        """Best ``k`` entries for a question, best first, and whether the best one answers it."""
        started = time.perf_counter()
        dense, lexical = self.channel_scores(question)
        ranked = self.rank(dense, lexical, dense_weight, categories)
        hits = []
        for row, score in ranked[:k]:
            entry = self.index.entries[row]
            hits.append(Hit(
                id=entry["id"], question=entry["question"], answer=entry["answer"], score=min(score, 1.0),
                category=entry["category"], sources=_sources(entry), dense=dense[row], lexical=lexical[row],
            ))
        answered = bool(hits) and hits[0].score >= self.settings.answer_threshold
        suggestions = [] if answered else [h.question for h in hits[:3]]
        took = (time.perf_counter() - started) * 1000
        return SearchResult(query=question, answered=answered, hits=hits, took_ms=took, suggestions=suggestions)
