"""Run a gold set against a searcher: per-query outcomes, summary metrics, breakdowns, sweep, ablation."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from qa.evaluation.goldset import GoldQuery
from qa.evaluation.metrics import hit_at, ndcg_at, percentile, recall_at, reciprocal_rank
from qa.search import Searcher
from qa.understand import understand

RECALL_KS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
SWEEP = [round(0.20 + 0.01 * i, 2) for i in range(81)]  # 0.20 .. 1.00

VARIANTS = ("hybrid", "dense", "lexical")


@dataclass
class Outcome:
    """One query's result under one ranking variant."""

    query: GoldQuery
    ranked: list[str]
    scores: list[float]
    ms: float = 0.0
    clarified: bool = False  # a clarifying question was asked instead of answering
    corrected: bool = False  # a spelling or pinyin correction was used
    followup: bool = False  # read as continuing its context question

    @property
    def top_score(self) -> float:
        return self.scores[0] if self.scores else 0.0


def ranking_metrics(outcomes: list[Outcome]) -> dict[str, float]:
    """hit@1, Recall@3/5/10, MRR@10 and nDCG@10 over in-scope queries."""
    rows = [o for o in outcomes if o.query.in_scope]
    n = len(rows) or 1

    def mean(fn: Callable[[Outcome], float]) -> float:
        return round(sum(fn(o) for o in rows) / n, 4)

    return {
        "hit@1": mean(lambda o: hit_at(o.ranked, set(o.query.ids), 1)),
        "recall@3": mean(lambda o: recall_at(o.ranked, set(o.query.ids), 3)),
        "recall@5": mean(lambda o: recall_at(o.ranked, set(o.query.ids), 5)),
        "recall@10": mean(lambda o: recall_at(o.ranked, set(o.query.ids), 10)),
        "mrr@10": mean(lambda o: reciprocal_rank(o.ranked, set(o.query.ids), 10)),
        "ndcg@10": mean(lambda o: ndcg_at(o.ranked, set(o.query.ids), 10)),
    }


def rejection_metrics(outcomes: list[Outcome], threshold: float) -> dict[str, float]:
    """How ``answered`` behaves at a threshold.

    - ``oos_rejected``: out-of-scope queries answered ``false`` (recall of rejection)
    - ``rejection_precision``: of all queries answered ``false``, the share that were out of scope
    - ``false_answer_rate``: in-scope queries answered with a wrong top entry
    - ``coverage``: in-scope queries answered with a right top entry

    A query met with a clarifying question was not answered, rightly or wrongly.
    """
    inside = [o for o in outcomes if o.query.in_scope]
    outside = [o for o in outcomes if not o.query.in_scope]
    rejected_oos = sum(1 for o in outside if o.top_score < threshold)
    rejected_in = sum(1 for o in inside if o.top_score < threshold)
    answered = [o for o in inside if o.top_score >= threshold and not o.clarified]
    right = sum(1 for o in answered if o.ranked and o.ranked[0] in o.query.ids)
    return {
        "threshold": threshold,
        "oos_rejected": round(rejected_oos / len(outside), 4) if outside else 0.0,
        "rejection_precision": round(rejected_oos / (rejected_oos + rejected_in), 4)
        if rejected_oos + rejected_in else 0.0,
        "false_answer_rate": round((len(answered) - right) / len(inside), 4) if inside else 0.0,
        "coverage": round(right / len(inside), 4) if inside else 0.0,
    }


def understanding_metrics(outcomes: list[Outcome]) -> dict[str, float]:
    """How often a clarifying question was asked: on the ambiguous queries (it should be) and on
    the other in-scope ones (it should not be)."""
    inside = [o for o in outcomes if o.query.in_scope]
    ambiguous = [o for o in inside if o.query.style == "ambiguous"]
    rest = [o for o in inside if o.query.style != "ambiguous"]

    def rate(rows: list[Outcome]) -> float:
        return round(sum(o.clarified for o in rows) / len(rows), 4) if rows else 0.0

    return {"clarified_ambiguous": rate(ambiguous), "clarified_other": rate(rest)}


def breakdown(outcomes: list[Outcome], key: Callable[[Outcome], str]) -> dict[str, dict[str, float]]:
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        if o.query.in_scope:
            groups.setdefault(key(o), []).append(o)

    def share(rows: list[Outcome], flag: str) -> float:
        return round(sum(getattr(o, flag) for o in rows) / len(rows), 4)

    return {
        name: {"queries": len(rows), **{k: v for k, v in ranking_metrics(rows).items()
                                         if k in ("hit@1", "recall@5", "mrr@10")},
               "clarified": share(rows, "clarified"), "corrected": share(rows, "corrected"),
               "followup": share(rows, "followup")}
        for name, rows in sorted(groups.items())
    }


@dataclass
class EvalRun:
    """Everything one evaluation measured."""

    outcomes: dict[str, list[Outcome]] = field(default_factory=dict)  # variant -> outcomes
    threshold: float = 0.0

    def summary(self) -> dict[str, Any]:
        hybrid = self.outcomes["hybrid"]
        latencies = [o.ms for o in hybrid]
        return {
            "queries": len(hybrid),
            "in_scope": sum(1 for o in hybrid if o.query.in_scope),
            "out_of_scope": sum(1 for o in hybrid if not o.query.in_scope),
            **ranking_metrics(hybrid),
            **rejection_metrics(hybrid, self.threshold),
            **understanding_metrics(hybrid),
            "latency_ms_p50": round(percentile(latencies, 50), 2),
            "latency_ms_p95": round(percentile(latencies, 95), 2),
        }


def run(searcher: Searcher, queries: list[GoldQuery], ablate: bool = False,
        progress: Callable[[], None] | None = None) -> EvalRun:
    """Ask every gold query once as a resident would (``qa.understand``: corrections, its context
    question for a follow-up, clarifying questions); the ablation variants rank the channel
    scores of the question as typed."""
    variants = VARIANTS if ablate else ("hybrid",)
    result = EvalRun(outcomes={name: [] for name in variants}, threshold=searcher.settings.answer_threshold)
    ids = searcher.index.entries.ids
    for query in queries:
        started = time.perf_counter()
        taken = understand(searcher, query.query, k=10, previous=query.context or None)
        ms = (time.perf_counter() - started) * 1000
        hits = taken.result.hits
        result.outcomes["hybrid"].append(Outcome(
            query=query, ranked=[h.id for h in hits], scores=[h.score for h in hits], ms=ms,
            clarified=taken.clarify is not None, corrected=taken.corrected is not None,
            followup=taken.followup_of is not None,
        ))
        if ablate:
            channels = searcher.channels(query.query)
            for name in variants[1:]:
                ranked = searcher.rank(channels, mode=name)
                result.outcomes[name].append(Outcome(
                    query=query, ranked=[ids[e] for e, _ in ranked[:10]], scores=[s for _, s in ranked[:10]],
                ))
        if progress:
            progress()
    return result


def category_of(entries_by_id: dict[str, dict[str, Any]]) -> Callable[[Outcome], str]:
    return lambda o: str(entries_by_id.get(o.query.ids[0], {}).get("category", "?"))


def worst_misses(
    outcomes: list[Outcome], entries_by_id: dict[str, dict[str, Any]], n: int = 30
) -> list[dict[str, Any]]:
    """In-scope queries whose right entry was not first: not in the top 10 first, then the most
    confidently wrong."""
    scored: list[tuple[tuple[int, float], dict[str, Any]]] = []
    for o in outcomes:
        if not o.query.in_scope or (o.ranked and o.ranked[0] in o.query.ids):
            continue
        rank = next((i + 1 for i, rid in enumerate(o.ranked) if rid in o.query.ids), None)
        scored.append(((-(rank or 99), -o.top_score), {
            "query": o.query.query, "style": o.query.style, "where": o.query.where,
            "expected": [{"id": i, "question": entries_by_id.get(i, {}).get("question", "?")} for i in o.query.ids],
            "rank": rank,
            "returned": [{"id": rid, "question": entries_by_id.get(rid, {}).get("question", "?"),
                          "score": round(s, 3)} for rid, s in zip(o.ranked[:3], o.scores[:3], strict=False)],
        }))
    scored.sort(key=lambda pair: pair[0])
    return [miss for _, miss in scored[:n]]


def sweep(outcomes: list[Outcome]) -> list[dict[str, float]]:
    return [rejection_metrics(outcomes, t) for t in SWEEP]


def recall_curve(outcomes: list[Outcome]) -> dict[int, float]:
    rows = [o for o in outcomes if o.query.in_scope]
    n = len(rows) or 1
    return {k: round(sum(recall_at(o.ranked, set(o.query.ids), k) for o in rows) / n, 4) for k in RECALL_KS}
