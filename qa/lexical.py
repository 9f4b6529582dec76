"""The lexical channel: BM25 (bm25s) over jieba words and character n-grams.

Scores are normalised per query to 0..1: the BM25 score divided by the score the
query's own tokens could reach at most (each query token matched once in a
document of average length). A query whose words the corpus never uses scores
near 0 however the ranking falls, which is what ``answered`` needs.
"""

from __future__ import annotations

import json
import logging
import math
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

K1 = 1.2
B = 0.75


def _term_statistics(docs: list[list[str]]) -> tuple[dict[str, int], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Vocabulary, document lengths, and each (document, term) pair with its frequency, vectorised."""
    flat = list(chain.from_iterable(docs))
    vocab = {t: i for i, t in enumerate(dict.fromkeys(flat))}  # C-level loops throughout: millions of tokens
    lengths = np.array(list(map(len, docs)), dtype=np.int64)
    terms = np.array(list(map(vocab.__getitem__, flat)), dtype=np.int64)
    pairs = np.repeat(np.arange(len(docs), dtype=np.int64), lengths) * max(len(vocab), 1) + terms
    unique, tf = np.unique(pairs, return_counts=True)
    return vocab, lengths, unique // max(len(vocab), 1), unique % max(len(vocab), 1), tf


def _bm25_class() -> type:
    """``bm25s.BM25`` with its documented extension point, ``build_index_from_tokens``, vectorised:
    the same Lucene BM25 matrix in a fraction of a second instead of seconds of Python loops
    (a rebuild after a small edit is dominated by it otherwise)."""
    import bm25s

    class VectorisedBM25(bm25s.BM25):  # type: ignore[misc]
        def build_index_from_tokens(self, corpus_tokens: list[list[str]], show_progress: bool = True,
                                    leave_progress: bool = False) -> tuple[dict[str, Any], dict[str, int]]:
            vocab, lengths, doc_idx, term_idx, tf = _term_statistics(corpus_tokens)
            n_docs, n_vocab = len(corpus_tokens), len(vocab)
            df = np.bincount(term_idx, minlength=n_vocab)
            self.nonoccurrence_array = None  # Lucene BM25 has none
            self.document_frequencies = dict(zip(vocab, df.tolist(), strict=True))
            idf = np.log(1 + (n_docs - df + 0.5) / (df + 0.5))
            norm = self.k1 * ((1 - self.b) + self.b * lengths[doc_idx] / lengths.mean())
            scores = idf[term_idx] * tf / (norm + tf)
            order = np.lexsort((doc_idx, term_idx))  # column-major: by term, then document
            indptr = np.concatenate([[0], np.cumsum(df)])
            matrix = {"data": scores[order].astype(self.dtype), "indices": doc_idx[order].astype(self.int_dtype),
                      "indptr": indptr.astype(self.int_dtype), "num_docs": n_docs}
            return matrix, vocab

    return VectorisedBM25


class LexicalIndex:
    """BM25 over one token list per phrasing."""

    def __init__(self, retriever: object, idf: dict[str, float], n_docs: int) -> None:
        self._bm25 = retriever
        self._idf = idf
        self._n_docs = n_docs
        self._oov_idf = math.log(1 + (n_docs + 0.5) / 0.5)

    @classmethod
    def build(cls, docs: list[list[str]]) -> LexicalIndex:
        # bm25s sets its own logger to DEBUG at import; keep its chatter out of our output.
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        docs = [d or [""] for d in docs]
        retriever = _bm25_class()(method="lucene", k1=K1, b=B)
        retriever.index(docs, show_progress=False)
        n = len(docs)
        idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in retriever.document_frequencies.items()}
        return cls(retriever, idf, n)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._bm25.save(str(folder), show_progress=False)  # type: ignore[attr-defined]
        (folder / "idf.json").write_text(
            json.dumps({"n_docs": self._n_docs, "idf": self._idf}, ensure_ascii=False), encoding="utf-8"
        )

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        import bm25s

        retriever = bm25s.BM25.load(str(folder), mmap=False, allow_pickle=False)
        meta = json.loads((folder / "idf.json").read_text(encoding="utf-8"))
        return cls(retriever, meta["idf"], int(meta["n_docs"]))

    @property
    def n_docs(self) -> int:
        return self._n_docs

    def scores(self, tokens: list[str]) -> np.ndarray:
        """Normalised 0..1 score of every phrasing for the query tokens."""
        known = [t for t in tokens if t in self._idf]
        if not known:
            return np.zeros(self._n_docs, dtype=np.float32)
        raw = np.asarray(self._bm25.get_scores(known), dtype=np.float32)  # type: ignore[attr-defined]
        ceiling = sum(self._idf.get(t, self._oov_idf) for t in tokens)
        return np.clip(raw / ceiling, 0.0, 1.0)
