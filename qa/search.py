"""Hybrid search: lexical and dense channels fused into one calibrated score per entry.

Both channels score every phrasing (question or alternate) of an entry, and an
entry takes its best phrasing. The fused score is a weighted sum of the dense
cosine and the normalised BM25 score, plus small weights for how well the query
matches the entry's answer text (residents often use the answer's words, not the
question's), plus a bonus when both channels put the same entry first (they agree
far more often when right than when wrong).
``answered`` is the fused score of the top entry against a threshold; below it
the closest entries are offered as suggestions instead of an answer.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.config import Settings
from qa.dense import search_params
from qa.errors import EntryNotFound, UnknownCategory
from qa.index import LoadedIndex
from qa.text import normalise

if TYPE_CHECKING:
    from qa.encoder import Encoder


@dataclass
class Channels:
    """Per-entry scores of one query: best phrasing (dense, lexical) and the answer text."""

    dense: dict[int, float]
    lexical: dict[int, float]
    answer_dense: dict[int, float]
    answer_lexical: dict[int, float]


@dataclass
class Scope:
    """The part of the index a category filter allows: its phrasing rows, and a FAISS selector of them."""

    phrasings: np.ndarray  # bool per phrasing row
    selector: Any  # faiss.IDSelector over the allowed phrasing rows


@dataclass
class Source:
    id: str
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
        Source(id=p["id"], title=p["title"], doc_no=p.get("doc_no", ""), issuer=p["issuer"], url=p["url"],
               status=p["status"])
        for p in entry.get("sources", [])
    ]


class Searcher:
    """``Searcher(index, encoder, settings).search(question, k) -> SearchResult``."""

    def __init__(self, index: LoadedIndex, encoder: Encoder, settings: Settings) -> None:
        import faiss

        self._omp_threads = faiss.omp_set_num_threads
        self.index = index
        self.encoder = encoder
        self.settings = settings
        self._owners = index.owners
        self._scopes: dict[tuple[str, ...], Scope] = {}
        self._rows = index.entries.rows
        self._words: dict[tuple[str, bool], tuple[str, set[str]]] = {}
        self._lapses = index.entries.lapses_on
        self._results: OrderedDict[tuple[Any, ...], SearchResult] = OrderedDict()  # see ``cached``
        self._results_lock = threading.Lock()
        # What other modules derive from this build once (keyed by their own names), e.g. the words
        # that name each case of a case group (qa/understand.py).
        self.derived: dict[tuple[str, str], Any] = {}

    def category_names(self, wanted: list[str] | None) -> list[str] | None:
        """Category names from names, slugs or unique name prefixes; unknown ones are refused."""
        if not wanted:
            return None
        names = [c["name"] for c in self.index.categories]
        by_key = {c["name"]: c["name"] for c in self.index.categories}
        by_key.update({c["slug"]: c["name"] for c in self.index.categories})
        found: set[str] = set()
        unknown: list[str] = []
        for word in (w.strip() for w in wanted):
            # An exact name or slug, else the one category whose name starts with it (企业开办 → 企业开办与市场监管).
            prefixed = [n for n in names if word and n.startswith(word)]
            if word in by_key:
                found.add(by_key[word])
            elif len(prefixed) == 1:
                found.add(prefixed[0])
            else:
                unknown.append(word)
        if unknown:
            raise UnknownCategory(f"没有这个分类：{'、'.join(unknown)}。可选分类：{'、'.join(names)}")
        return sorted(found)

    def scope(self, names: list[str]) -> Scope:
        """The rows a category filter allows, computed once per set of categories."""
        import faiss

        key = tuple(sorted(names))
        if key not in self._scopes:
            wanted = set(key)
            entries = np.array([c in wanted for c in self.index.entries.categories], dtype=bool)
            phrasings = entries[self._owners]
            rows = np.flatnonzero(phrasings).astype(np.int64)
            self._scopes[key] = Scope(phrasings, faiss.IDSelectorBatch(rows))
        return self._scopes[key]

    def entry_words(self, entry_id: str, question_only: bool = False) -> tuple[str, set[str]]:
        """An entry's phrasings (or only its question) as one normalised text and as a set of words of
        two characters or more (computed once per entry)."""
        key = (entry_id, question_only)
        found = self._words.get(key)
        if found is None:
            entry = self.entry(entry_id)
            texts = [entry["question"]] if question_only else [entry["question"], *entry.get("alternates", [])]
            normalised = [normalise(t) for t in texts]
            words = {w for t in normalised for w in self.index.tokenizer.words(t) if len(w) >= 2}
            found = self._words[key] = (" ".join(normalised), words)
        return found

    def same_answer(self, a: str, b: str, alike: float = 0.95) -> bool:
        """True when two entries answer alike (their answers' vectors nearly the same)."""
        rows = self._rows
        if a not in rows or b not in rows:
            return False
        vectors = self.index.answer_vectors
        return float(vectors[rows[a]] @ vectors[rows[b]]) >= alike

    def entry(self, entry_id: str) -> dict[str, Any]:
        try:
            return self.index.by_id[entry_id]
        except KeyError:
            raise EntryNotFound(f"no entry with id {entry_id!r}") from None

    def lapsed(self, entry_id: str) -> bool:
        """True when every policy of the entry has expired since the build (it is not answered)."""
        row = self._rows.get(entry_id)
        last = self._lapses.get(row) if row is not None else None
        return last is not None and last < date.today().isoformat()

    def hit(self, entry_id: str, score: float) -> Hit:
        """An entry as a hit with a given score (an option offered without being searched for)."""
        entry = self.entry(entry_id)
        return Hit(id=entry["id"], question=entry["question"], answer=entry["answer"], score=score,
                   category=entry["category"], sources=_sources(entry))

    def _entry_max(self, rows: np.ndarray, scores: np.ndarray) -> dict[int, float]:
        best: dict[int, float] = {}
        for row, score in zip(rows.tolist(), scores.tolist(), strict=True):
            entry = int(self._owners[row])
            if score > best.get(entry, -1.0):
                best[entry] = score
        return best

    def _phrasing_rows(self, entries: set[int]) -> tuple[list[int], np.ndarray, np.ndarray]:
        """The entries (as a list), the phrasing rows of all of them, and where each entry's rows start."""
        ordered = list(entries)
        first = self.index.first_row
        lo = first[ordered]
        counts = first[np.asarray(ordered) + 1] - lo
        starts = np.zeros(len(ordered), dtype=np.int64)
        np.cumsum(counts[:-1], out=starts[1:])
        rows = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(starts - lo, counts)
        return ordered, rows, starts

    def channels(self, question: str, scope: Scope | None = None) -> Channels:
        """Every channel's score for each candidate entry (the union of both channels' top phrasings).

        With a ``scope`` both channels search only the allowed phrasings, so a narrow category
        filter still gets its best candidates rather than what is left of the global top.
        """
        from qa.encoder import encode

        text = normalise(question)
        c = min(self.settings.candidates, len(self._owners))
        tokens = self.index.tokenizer.tokens(text)
        lex_all = self.index.lexical.scores(tokens, self.settings.postings_budget)
        ranked_lex = lex_all if scope is None else np.where(scope.phrasings, lex_all, -1.0)
        top = np.argpartition(-ranked_lex, c - 1)[:c] if c < len(lex_all) else np.arange(len(lex_all))
        if scope is not None:
            top = top[scope.phrasings[top]]
        lexical = self._entry_max(top, lex_all[top])
        if self.index.tokenizer.is_pinyin(text):
            # The encoder reads characters, not pinyin: only the lexical channels can judge.
            return Channels(dense={}, lexical=lexical, answer_dense={},
                            answer_lexical=self._answer_lexical(tokens, lexical))

        query = encode(self.encoder, [text])
        params = search_params(self.index.dense, None if scope is None else scope.selector, self.settings.nprobe)
        d_scores, d_rows = self.index.dense.search(query, c, params=params)
        dense = self._entry_max(d_rows[0][d_rows[0] >= 0], d_scores[0][d_rows[0] >= 0])

        # Entries found by one channel only: fill in the other channel's exact score (all at once:
        # one reconstruct and one matrix product, not one per entry).
        only_lexical, only_dense = set(lexical) - set(dense), set(dense) - set(lexical)
        if only_lexical:
            entries, rows, starts = self._phrasing_rows(only_lexical)
            similarity = self.index.dense.reconstruct_batch(rows) @ query[0]
            dense.update(zip(entries, np.maximum.reduceat(similarity, starts).tolist(), strict=True))
        if only_dense:
            entries, rows, starts = self._phrasing_rows(only_dense)
            lexical.update(zip(entries, np.maximum.reduceat(lex_all[rows], starts).tolist(), strict=True))
        rows = np.fromiter(dense, dtype=np.int64, count=len(dense))
        answer_dense = dict(zip(dense, (self.index.answer_vectors[rows] @ query[0]).tolist(), strict=True))
        return Channels(dense=dense, lexical=lexical, answer_dense=answer_dense,
                        answer_lexical=self._answer_lexical(tokens, dense))

    def _answer_lexical(self, tokens: list[str], entries: dict[int, float]) -> dict[int, float]:
        """How well the query's words match each candidate entry's answer text (BM25, 0..1)."""
        rows = np.fromiter(entries, dtype=np.int64, count=len(entries))
        return dict(zip(entries, self.index.answer_lexical.scores_of(tokens, rows).tolist(), strict=True))

    def fuse(self, ch: Channels, mode: str = "hybrid") -> dict[int, float]:
        """One score per entry.

        ``hybrid``: weighted dense + lexical score of the best phrasing, plus small weights
        for how well the query matches the entry's answer, plus a bonus when the dense and
        lexical channels put the same entry first. ``dense`` and ``lexical`` keep one family
        of channels (for ablation). A pinyin query has no dense scores: lexical stands alone.
        """
        st = self.settings
        if mode == "lexical" or not ch.dense:
            return {e: ch.lexical[e] + st.answer_lexical_weight * ch.answer_lexical[e] for e in ch.lexical}
        if mode == "dense":
            return {e: ch.dense[e] + st.answer_dense_weight * ch.answer_dense[e] for e in ch.dense}
        w = st.dense_weight
        fused = {
            e: w * ch.dense[e] + (1 - w) * ch.lexical[e]
            + st.answer_lexical_weight * ch.answer_lexical[e] + st.answer_dense_weight * ch.answer_dense[e]
            for e in ch.dense
        }
        top_dense = max(ch.dense, key=ch.dense.__getitem__)
        agree = top_dense == max(ch.lexical, key=ch.lexical.__getitem__)
        if agree and ch.dense[top_dense] >= st.agreement_min_dense:
            fused[top_dense] += st.agreement_bonus
        return fused

    def rank(self, ch: Channels, mode: str = "hybrid") -> list[tuple[int, float]]:
        """Candidate entries as (entry row, fused score), best first (a scope already limited them)."""
        fused = self.fuse(ch, mode)
        if self._lapses:  # entries whose every policy has expired since the build are not answered
            today = date.today().isoformat()
            fused = {e: s for e, s in fused.items() if self._lapses.get(e, "9999") >= today}
        return sorted(fused.items(), key=lambda item: item[1], reverse=True)

    def pick(self, entry_id: str, question: str, k: int = 5, categories: list[str] | None = None) -> SearchResult:
        """The answer a resident picked (an option of a clarifying question): that entry first and
        answered, then the entries closest to it (within ``categories``). Raises ``EntryNotFound``
        for an unknown id."""
        entry = self.entry(entry_id)
        near = self.search(entry["question"], k + 1, categories)
        chosen = next((h for h in near.hits if h.id == entry_id), None) or self.hit(entry_id, 1.0)
        hits = [chosen, *[h for h in near.hits if h.id != entry_id]][:k]
        return SearchResult(query=question, answered=True, hits=hits, took_ms=near.took_ms)

    def _result_key(self, question: str, k: int, categories: list[str] | None) -> tuple[Any, ...]:
        # The day is part of the key: an entry whose policies lapse at midnight drops out of the ranking.
        return normalise(question), k, tuple(categories or ()), date.today().isoformat()

    def cached(self, question: str, k: int = 5, categories: list[str] | None = None) -> SearchResult | None:
        """The result of the same search made earlier (``search_cache``), or None.

        At peak residents ask the same few questions (a new policy, a deadline): a repeat costs
        a dictionary lookup instead of the encoder and both indexes (~10 ms of CPU).
        """
        if not self.settings.search_cache:
            return None
        started = time.perf_counter()
        key = self._result_key(question, k, categories)
        with self._results_lock:
            result = self._results.get(key)
            if result is None:
                return None
            self._results.move_to_end(key)
        return replace(result, query=question, took_ms=(time.perf_counter() - started) * 1000)

    def search(self, question: str, k: int = 5, categories: list[str] | None = None) -> SearchResult:
        """Best ``k`` entries for a question, best first, and whether the best one answers it.

        ``categories`` (names or slugs) restricts the answer to those categories.
        """
        again = self.cached(question, k, categories)
        if again is not None:
            return again
        started = time.perf_counter()
        # OpenMP's thread count is per calling thread: set it in each server thread, or FAISS runs
        # every query on all cores, whose spinning doubled the CPU per query (24 → 11 ms).
        self._omp_threads(self.settings.threads)
        names = self.category_names(categories)
        ch = self.channels(question, self.scope(names) if names else None)
        ranked = self.rank(ch)
        hits = []
        for row, score in ranked[:k]:
            entry = self.index.entries[row]
            hits.append(Hit(
                id=entry["id"], question=entry["question"], answer=entry["answer"], score=min(score, 1.0),
                category=entry["category"], sources=_sources(entry), dense=ch.dense.get(row, 0.0),
                lexical=ch.lexical[row],
            ))
        answered = bool(hits) and hits[0].score >= self.settings.answer_threshold
        suggestions = [] if answered else [h.question for h in hits[:3]]
        took = (time.perf_counter() - started) * 1000
        result = SearchResult(query=question, answered=answered, hits=hits, took_ms=took, suggestions=suggestions)
        if self.settings.search_cache:
            with self._results_lock:
                self._results[self._result_key(question, k, categories)] = result
                while len(self._results) > self.settings.search_cache:
                    self._results.popitem(last=False)
        return result
