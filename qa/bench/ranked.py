"""Quality and latency of any ranker over the gold set: the shared yardstick of ``qa bench``."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from qa.evaluation.goldset import GoldQuery
from qa.evaluation.metrics import hit_at, percentile, recall_at, reciprocal_rank


def latency(ms: Sequence[float]) -> dict[str, float]:
    return {name: round(percentile(ms, q), 2) for name, q in (("p50", 50), ("p95", 95), ("p99", 99))}


def quality(queries: Sequence[GoldQuery], ranked: Sequence[Sequence[str]]) -> dict[str, float]:
    """hit@1, Recall@5 and MRR@10 over the in-scope queries."""
    rows = [(q, r) for q, r in zip(queries, ranked, strict=True) if q.in_scope]
    n = len(rows) or 1
    return {
        "hit@1": round(sum(hit_at(r, set(q.ids), 1) for q, r in rows) / n, 4),
        "recall@5": round(sum(recall_at(r, set(q.ids), 5) for q, r in rows) / n, 4),
        "mrr@10": round(sum(reciprocal_rank(r, set(q.ids), 10) for q, r in rows) / n, 4),
    }


def measure(queries: Sequence[GoldQuery], rank: Callable[[str], list[str]], warmup: int = 20) -> dict[str, Any]:
    """Run ``rank`` on every gold query once, one at a time: quality and latency."""
    for query in queries[:warmup]:
        rank(query.query)
    ranked: list[list[str]] = []
    ms: list[float] = []
    for query in queries:
        started = time.perf_counter()
        ranked.append(rank(query.query))
        ms.append((time.perf_counter() - started) * 1000)
    return {**quality(queries, ranked), "latency_ms": latency(ms), "queries": len(queries)}


def by_entry(rows: Sequence[int], owners: Sequence[str], k: int = 10) -> list[str]:
    """Entry ids in order of their best phrasing row."""
    seen: list[str] = []
    for row in rows:
        if row < 0:
            continue
        entry = owners[row]
        if entry not in seen:
            seen.append(entry)
            if len(seen) == k:
                break
    return seen
