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
from pathlib import Path

import numpy as np

K1 = 1.2
B = 0.75


class LexicalIndex:
    """BM25 over one token list per phrasing."""

    def __init__(self, retriever: object, idf: dict[str, float], n_docs: int) -> None:
        self._bm25 = retriever
        self._idf = idf
        self._n_docs = n_docs
        self._oov_idf = math.log(1 + (n_docs + 0.5) / 0.5)

    @classmethod
    def build(cls, docs: list[list[str]]) -> LexicalIndex:
        import bm25s

        # bm25s sets its own logger to DEBUG at import; keep its chatter out of our output.
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        retriever = bm25s.BM25(method="lucene", k1=K1, b=B)
        retriever.index([d or [""] for d in docs], show_progress=False)
        df: dict[str, int] = {}
        for doc in docs:
            for token in set(doc):
                df[token] = df.get(token, 0) + 1
        n = len(docs)
        idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
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
