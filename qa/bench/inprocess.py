"""In-process search over the gold queries, one at a time, for one built index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qa.bench.floor import floor
from qa.bench.ranked import measure
from qa.config import Settings
from qa.encoder import Encoder
from qa.evaluation.goldset import GoldQuery
from qa.index import load_index
from qa.search import Searcher


def searcher_for(index_dir: Path, encoder: Encoder, settings: Settings) -> Searcher:
    index = load_index(index_dir, settings.model, nprobe=settings.nprobe)
    return Searcher(index, encoder, settings)


def search_figures(searcher: Searcher, queries: list[GoldQuery], with_floor: bool = True) -> dict[str, Any]:
    """Latency (ms, and as a multiple of the floor measured alongside) and quality of ``Searcher.search``."""

    def rank(text: str) -> list[str]:
        return [hit.id for hit in searcher.search(text, k=10).hits]

    figures: dict[str, Any] = {
        "entries": len(searcher.index.entries), "phrasings": int(searcher.index.dense.ntotal),
        "index_type": searcher.index.manifest.index_type, **measure(queries, rank),
    }
    if with_floor:
        texts = [q.query for q in queries]
        found = floor(searcher.encoder, texts, figures["phrasings"], searcher.index.manifest.dim,
                      searcher.settings.candidates)
        figures["floor"] = found
        base = found["floor_ms"]["p50"]
        figures["vs_floor"] = {"p50": round(figures["latency_ms"]["p50"] / base, 2),
                               "p99": round(figures["latency_ms"]["p99"] / base, 2)}
    return figures
