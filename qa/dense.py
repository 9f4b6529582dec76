"""The dense channel's FAISS index, chosen by size.

Up to ``exact_max_vectors`` phrasings (20,000 by default, about 4,000 entries) the index is
exact (``IndexFlatIP``): one query reads every vector, about 0.17 ms per 1,000 vectors on one
thread here (2.6 ms for the bundled corpus's 15,150, 6 ms for 34,000). Above it, an inverted
file with 8-bit scalar quantisation (``IVF<n>,SQ8``): the vectors are clustered into
``n ≈ 4·√N`` lists (fewer for small N) at build time, a query reads only the ``nprobe`` lists
nearest to it, and the vectors take a quarter of the memory. ``qa bench`` measures both at the
synthetic sizes and the Recall@5 the approximate index gives up (none at 7,800 entries; see
docs/SCALING.md).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

EXACT = "IndexFlatIP"
EXACT_MAX_VECTORS = 20_000
NPROBE = 32


def build_dense(vectors: np.ndarray, exact_max_vectors: int, seed: int = 1234,
                previous: Path | None = None) -> tuple[Any, str]:
    """A FAISS index over unit ``vectors`` (inner product = cosine) and its type's name.

    An approximate index reuses the clusters of ``previous`` (the last build's index file) when
    it is one over a similar number of vectors: an edit moves no cluster, and training them is
    most of a rebuild's time.
    """
    import faiss

    n, dim = vectors.shape
    if n <= exact_max_vectors:
        flat = faiss.IndexFlatIP(dim)
        flat.add(vectors)
        return flat, EXACT
    reused = _trained_like(previous, n, dim)
    if reused is not None:
        reused.add(vectors)
        return reused, index_type(reused)
    # About 4·√N lists (a power of two), but at least 39 training vectors per list, as k-means needs.
    lists = 1 << max(2, min(round(math.log2(4 * math.sqrt(n))), int(math.log2(max(n // 39, 4)))))
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFScalarQuantizer(quantizer, dim, lists, faiss.ScalarQuantizer.QT_8bit,
                                          faiss.METRIC_INNER_PRODUCT)
    # k-means on a sample: 64 vectors per list is plenty for centroids and keeps training to seconds.
    sample = min(n, 64 * lists)
    rows = np.random.default_rng(seed).choice(n, size=sample, replace=False) if sample < n else np.arange(n)
    index.cp.seed = seed
    index.cp.niter = 10  # of k-means's 25 by default: the bench measured no recall lost, and 2 s less per build
    index.train(np.ascontiguousarray(vectors[np.sort(rows)]))
    index.add(vectors)
    return index, index_type(index)


def index_type(index: Any) -> str:
    """The name a build's manifest gives its dense index: ``IndexFlatIP`` or ``IVF<lists>,SQ8``."""
    import faiss

    ivf = faiss.try_extract_index_ivf(index)
    return EXACT if ivf is None else f"IVF{ivf.nlist},SQ8"


def _trained_like(previous: Path | None, n: int, dim: int) -> Any:
    """The previous build's IVF index emptied of its vectors, if it fits ``n`` vectors of ``dim``."""
    import faiss

    if previous is None or not previous.exists():
        return None
    try:
        index = faiss.read_index(str(previous))
    except RuntimeError:  # damaged or foreign: train afresh
        return None
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is None or index.d != dim or not 0.8 * index.ntotal <= n <= 1.25 * index.ntotal:
        return None
    index.reset()
    return index


def prepare(index: Any, nprobe: int) -> Any:
    """Make a loaded index ready to serve: an IVF index probes ``nprobe`` lists and can
    reconstruct any vector by id (the search fills in scores of lexical-only candidates)."""
    import faiss

    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        ivf.nprobe = nprobe
        ivf.make_direct_map()
    return index


def search_params(index: Any, selector: Any, nprobe: int) -> Any:
    """Per-query parameters restricting a search to ``selector``'s rows (None: no restriction)."""
    import faiss

    if selector is None:
        return None
    if faiss.try_extract_index_ivf(index) is not None:
        return faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)  # type: ignore[call-arg]
    return faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
