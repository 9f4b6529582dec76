"""The lexical channel: BM25 (bm25s) over jieba words and character n-grams.

Scores are normalised per query to 0..1: the BM25 score divided by the score the
query's own tokens could reach at most (each query token matched once in a
document of average length). A query whose words the corpus never uses scores
near 0 however the ranking falls, which is what ``answered`` needs.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import orjson

K1 = 1.2
B = 0.75
# Postings a whole-index pass sums in the time one binary search per token takes (~35 µs: about
# 8,000 postings at ~5 ns each); below that, ``scores_of`` scores every document instead.
SCAN_POSTINGS_PER_TOKEN = 8_000


class TokenVocabulary:
    """Token strings by id, growing as texts are added (the build cache keeps it across builds)."""

    def __init__(self, tokens: list[str] | None = None) -> None:
        self.tokens = list(tokens or [])
        self.ids = {t: i for i, t in enumerate(self.tokens)}

    def encode(self, tokens: list[str]) -> np.ndarray:
        ids = self.ids
        for token in tokens:
            if token not in ids:
                ids[token] = len(self.tokens)
                self.tokens.append(token)
        return np.array([ids[t] for t in tokens], dtype=np.int32)


def _bm25(docs: list[np.ndarray], vocab: list[str]) -> tuple[Any, dict[str, int]]:
    """A ``bm25s.BM25`` (Lucene variant) over documents given as token-id arrays, built vectorised:
    the same matrix bm25s's own ``index`` computes (tested), in a fraction of a second instead of
    seconds of Python loops over millions of tokens. Returns the retriever and document frequencies."""
    import bm25s

    lengths = np.array([len(d) for d in docs], dtype=np.int64)
    flat = np.concatenate(docs).astype(np.int64)
    # The vocabulary's ids that occur, renumbered densely in id order (a mask, not a sort).
    present = np.zeros(len(vocab), dtype=bool)
    present[flat] = True
    global_ids = np.flatnonzero(present)
    local = (np.cumsum(present) - 1)[flat]
    n_docs, n_vocab = len(docs), len(global_ids)
    # One sort of (term, document) keys gives the term frequencies already in column-major order.
    pairs = local * n_docs + np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
    unique, tf = np.unique(pairs, return_counts=True)
    term_idx, doc_idx = unique // n_docs, unique % n_docs
    df = np.bincount(term_idx, minlength=n_vocab)
    idf = np.log(1 + (n_docs - df + 0.5) / (df + 0.5))
    norm = K1 * ((1 - B) + B * lengths[doc_idx] / lengths.mean())
    scores = idf[term_idx] * tf / (norm + tf)
    retriever = bm25s.BM25(method="lucene", k1=K1, b=B)
    retriever.scores = {
        "data": scores.astype(retriever.dtype), "indices": doc_idx.astype(retriever.int_dtype),
        "indptr": np.concatenate([[0], np.cumsum(df)]).astype(retriever.int_dtype), "num_docs": n_docs,
    }
    words = [vocab[g] for g in global_ids.tolist()]
    retriever.vocab_dict = {w: i for i, w in enumerate(words)}
    if "" not in retriever.vocab_dict:  # as bm25s.index does: the empty token scores empty queries
        retriever.vocab_dict[""] = n_vocab
    retriever.unique_token_ids_set = set(retriever.vocab_dict.values())
    retriever.nonoccurrence_array = None  # Lucene BM25 has none
    return retriever, dict(zip(words, df.tolist(), strict=True))


class LexicalIndex:
    """BM25 over one token list per phrasing."""

    def __init__(self, retriever: object, idf: dict[str, float], n_docs: int) -> None:
        self._bm25 = retriever
        self._idf = idf
        self._n_docs = n_docs
        self._oov_idf = math.log(1 + (n_docs + 0.5) / 0.5)

    @classmethod
    def build(cls, docs: list[list[str]]) -> LexicalIndex:
        """BM25 over token lists."""
        vocab = TokenVocabulary()
        return cls.from_ids([vocab.encode(d) for d in docs], vocab.tokens)

    @classmethod
    def from_ids(cls, docs: list[np.ndarray], vocab: list[str]) -> LexicalIndex:
        """BM25 over documents given as ids into ``vocab`` (an empty document holds the empty token)."""
        # bm25s sets its own logger to DEBUG at import; keep its chatter out of our output.
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        if any(len(d) == 0 for d in docs):
            vocab = [*vocab, ""]
            empty = np.array([len(vocab) - 1], dtype=np.int32)
            docs = [d if len(d) else empty for d in docs]
        retriever, df = _bm25(docs, vocab)
        n = len(docs)
        idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        return cls(retriever, idf, n)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._bm25.save(str(folder), show_progress=False)  # type: ignore[attr-defined]
        (folder / "idf.json").write_bytes(orjson.dumps({"n_docs": self._n_docs, "idf": self._idf}))

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        import bm25s

        # Memory-mapped: a query reads the postings of its own tokens, and the pages are the page
        # cache's (shared by the workers of `qa serve --workers N`, given back under pressure);
        # read into memory, the two BM25 indexes took 750 MB of each worker at 100,000 entries.
        retriever = bm25s.BM25.load(str(folder), mmap=True, allow_pickle=False)
        for name in ("data", "indices", "indptr"):  # plain views: a memmap's every slice runs Python code
            retriever.scores[name] = retriever.scores[name].view(np.ndarray)
        meta = orjson.loads((folder / "idf.json").read_bytes())
        return cls(retriever, meta["idf"], int(meta["n_docs"]))

    @property
    def idf(self) -> dict[str, float]:
        """Each token's idf (rarer tokens higher)."""
        return self._idf

    @property
    def n_docs(self) -> int:
        return self._n_docs

    def raw_scores(self, tokens: list[str], budget: int | None = None) -> np.ndarray:
        """BM25 of every document, as bm25s's ``get_scores`` computes it, in one ``bincount``.

        bm25s adds each token's postings with ``np.add.at``, slow and holding the GIL: it was a
        quarter of py-spy's samples of the server under concurrent load. A token's postings name
        each document once, so all postings can be summed at once.
        """
        matrix = self._bm25.scores  # type: ignore[attr-defined]
        vocab = self._bm25.vocab_dict  # type: ignore[attr-defined]
        indptr, indices, data = matrix["indptr"], matrix["indices"], matrix["data"]
        spans = [(indptr[vocab[t]], indptr[vocab[t] + 1]) for t in tokens if t in vocab]
        if budget is not None and sum(e - s for s, e in spans) > budget:
            # Rarest tokens first, until the budget of postings is spent: the commonest ones (a
            # character in every tenth document) weigh least and cost most on a large index.
            spans.sort(key=lambda span: span[1] - span[0])
            kept: list[tuple[int, int]] = []
            total = 0
            for s, e in spans:
                if kept and total + (e - s) > budget:
                    break
                kept.append((s, e))
                total += e - s
            spans = kept
        if not spans:
            return np.zeros(self._n_docs, dtype=np.float32)
        rows = np.concatenate([indices[s:e] for s, e in spans])
        weights = np.concatenate([data[s:e] for s, e in spans])
        return np.bincount(rows, weights=weights, minlength=matrix["num_docs"]).astype(np.float32)

    def scores_of(self, tokens: list[str], docs: np.ndarray) -> np.ndarray:
        """``scores(tokens)[docs]`` (every token counted). The search needs its ~50 candidates'
        answer scores, not every entry's: on a large index each token's postings are binary-searched
        for ``docs`` (~35 µs a token, a question has ~90), which at 100,000 entries took 3 ms where
        scoring every answer took 7; on a small one scoring every document costs less (at 7,800
        entries the binary searches took 3.8 ms a search), and is what is done while the postings
        to read are few."""
        known = [t for t in tokens if t in self._idf]
        if not known or not len(docs):
            return np.zeros(len(docs), dtype=np.float32)
        matrix = self._bm25.scores  # type: ignore[attr-defined]
        vocab = self._bm25.vocab_dict  # type: ignore[attr-defined]
        indptr, indices, data = matrix["indptr"], matrix["indices"], matrix["data"]
        to_read = sum(int(indptr[vocab[t] + 1] - indptr[vocab[t]]) for t in known if t in vocab)
        if to_read + self._n_docs <= SCAN_POSTINGS_PER_TOKEN * len(known):
            return self.scores(tokens)[np.asarray(docs, dtype=np.int64)]
        docs = np.asarray(docs, dtype=indices.dtype)  # as the postings: searchsorted would copy them to match
        raw = np.zeros(len(docs), dtype=np.float64)
        for token in known:  # in query order, as raw_scores sums them
            if token not in vocab:
                continue
            s, e = int(indptr[vocab[token]]), int(indptr[vocab[token] + 1])
            postings = indices[s:e]  # a token's documents, in ascending order (see _bm25)
            at = np.minimum(np.searchsorted(postings, docs), e - s - 1)
            raw += np.where(postings[at] == docs, data[s:e][at], 0.0)
        ceiling = sum(self._idf.get(t, self._oov_idf) for t in tokens)
        return np.clip(raw.astype(np.float32) / ceiling, 0.0, 1.0)

    def scores(self, tokens: list[str], budget: int | None = None) -> np.ndarray:
        """Normalised 0..1 score of every phrasing for the query tokens (reading at most ``budget``
        postings: see ``raw_scores``)."""
        known = [t for t in tokens if t in self._idf]
        if not known:
            return np.zeros(self._n_docs, dtype=np.float32)
        raw = self.raw_scores(known, budget)
        ceiling = sum(self._idf.get(t, self._oov_idf) for t in tokens)
        return np.clip(raw / ceiling, 0.0, 1.0)
