"""The floor: what one query cannot avoid — the encoder on the query, one exact search.

Measured per gold query in the same run as everything it is compared with, because these
machines are shared and absolute times drift. The exact search runs over random unit vectors
as many as the index has (an exact search's cost does not depend on what the vectors say).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from qa.bench.ranked import latency
from qa.encoder import Encoder, encode
from qa.text import normalise


def random_unit_vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vectors = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):  # in slices: a million rows of float64 would be 4 GB at once
        block = rng.standard_normal((min(100_000, n - start), dim), dtype=np.float32)
        vectors[start:start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return vectors


def floor(encoder: Encoder, queries: Sequence[str], vectors: int, dim: int, candidates: int) -> dict[str, Any]:
    """Encoder, exact search and their sum per query (ms), over ``vectors`` vectors on one thread."""
    import faiss

    faiss.omp_set_num_threads(1)
    flat = faiss.IndexFlatIP(dim)
    flat.add(random_unit_vectors(vectors, dim))
    for text in queries[:20]:
        flat.search(encode(encoder, [normalise(text)]), candidates)
    enc: list[float] = []
    search: list[float] = []
    for text in queries:
        t0 = time.perf_counter()
        vector = encode(encoder, [normalise(text)])
        t1 = time.perf_counter()
        flat.search(vector, candidates)
        t2 = time.perf_counter()
        enc.append((t1 - t0) * 1000)
        search.append((t2 - t1) * 1000)
    total = [a + b for a, b in zip(enc, search, strict=True)]
    return {"vectors": vectors, "encode_ms": latency(enc), "exact_search_ms": latency(search),
            "floor_ms": latency(total)}
