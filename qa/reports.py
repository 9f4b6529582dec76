"""Editors' to-do lists from what residents asked: ``qa report unanswered`` and ``qa report top``.

Unanswered questions are grouped by meaning (the same encoder the service uses; a question
joins the group of the most-asked question it is close to), so the largest groups are the
missing entries to write first. Entries with the most 👎 come with the questions they were
shown for. ``top`` shows what residents ask now: the most asked questions and entries, and
the answered ratio by category and by day.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

import numpy as np

from qa.encoder import Encoder, encode
from qa.store import Store

GROUP_COSINE = 0.75  # two unanswered questions this close ask the same thing
EXAMPLES = 5
TOP = 20


def _groups(texts: list[str], counts: Counter[str], encoder: Encoder) -> list[list[str]]:
    """Greedy grouping, most asked first: each question joins the first group whose lead it is close to."""
    order = sorted(texts, key=lambda t: (-counts[t], t))
    vectors = encode(encoder, order)
    assigned = np.zeros(len(order), dtype=bool)
    groups = []
    for i in range(len(order)):
        if assigned[i]:
            continue
        close = (vectors @ vectors[i] >= GROUP_COSINE) & ~assigned
        close[i] = True
        assigned |= close
        groups.append([order[j] for j in np.flatnonzero(close)])
    return groups


def unanswered_report(store: Store, encoder: Encoder, since: datetime | None = None,
                      questions: dict[str, str] | None = None) -> dict[str, Any]:
    """Groups of similar unanswered questions, largest first, and the entries with the most 👎."""
    questions = questions or {}
    rows = store.unanswered_rows(since)
    counts = Counter(r["query"] for r in rows)
    closest: dict[str, Counter[str]] = defaultdict(Counter)
    seen: dict[str, list[datetime]] = defaultdict(list)
    for r in rows:
        if r["entry_id"]:
            closest[r["query"]][r["entry_id"]] += 1
        seen[r["query"]].append(r["created_at"])
    groups: list[dict[str, Any]] = []
    for members in _groups(list(counts), counts, encoder) if counts else []:
        near: Counter[str] = Counter()
        for m in members:
            near.update(closest[m])
        times = [t for m in members for t in seen[m]]
        nearest = near.most_common(1)[0][0] if near else None
        groups.append({
            "asked": sum(counts[m] for m in members), "distinct": len(members),
            "examples": members[:EXAMPLES], "closest_entry": nearest,
            "closest_question": questions.get(nearest or "", ""),
            "first": min(times).isoformat(timespec="minutes"), "last": max(times).isoformat(timespec="minutes"),
        })
    groups.sort(key=lambda g: (-g["asked"], g["examples"][0]))

    votes: dict[str, Counter[bool]] = defaultdict(Counter)
    disliked_for: dict[str, Counter[str]] = defaultdict(Counter)
    for f in store.feedback_rows(since):
        votes[f["entry_id"]][bool(f["helpful"])] += 1
        if not f["helpful"]:
            disliked_for[f["entry_id"]][f["query"]] += 1
    disliked: list[dict[str, Any]] = [
        {"entry_id": eid, "question": questions.get(eid, ""), "down": v[False], "up": v[True],
         "examples": [q for q, _ in sorted(disliked_for[eid].items(), key=lambda kv: (-kv[1], kv[0]))][:EXAMPLES]}
        for eid, v in votes.items() if v[False]
    ]
    disliked.sort(key=lambda d: (-d["down"], d["up"], d["entry_id"]))
    return {"since": since.isoformat() if since else None, "unanswered": len(rows), "groups": groups,
            "disliked": disliked}


def _ratio(answered: int, asked: int) -> float:
    return round(answered / asked, 4) if asked else 0.0


def top_report(store: Store, since: datetime | None = None,
               questions: dict[str, str] | None = None) -> dict[str, Any]:
    """The most asked questions and entries; answered ratio by category and by day."""
    questions = questions or {}
    rows = store.query_rows(since)
    asked = Counter(r["query"] for r in rows)
    answered_q = Counter(r["query"] for r in rows if r["answered"])
    shown = Counter(r["entry_id"] for r in rows if r["answered"] and r["entry_id"])
    by_category: dict[str, Counter[str]] = defaultdict(Counter)
    by_day: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        for bucket in (by_category[r["category"] or "（无）"], by_day[r["created_at"].date().isoformat()]):
            bucket["asked"] += 1
            bucket["answered"] += bool(r["answered"])
    return {
        "since": since.isoformat() if since else None,
        "asked": len(rows),
        "answered_ratio": _ratio(sum(bool(r["answered"]) for r in rows), len(rows)),
        "questions": [{"query": q, "asked": n, "answered_ratio": _ratio(answered_q[q], n)}
                      for q, n in asked.most_common(TOP)],
        "entries": [{"entry_id": e, "question": questions.get(e, ""), "answered": n}
                    for e, n in shown.most_common(TOP)],
        "by_category": [{"category": c, "asked": v["asked"], "answered_ratio": _ratio(v["answered"], v["asked"])}
                        for c, v in sorted(by_category.items(), key=lambda kv: -kv[1]["asked"])],
        "by_day": [{"day": d, "asked": v["asked"], "answered_ratio": _ratio(v["answered"], v["asked"])}
                   for d, v in sorted(by_day.items())],
    }


def report_sheets(report: dict[str, Any]) -> dict[str, tuple[list[str], list[list[str]]]]:
    """A report as spreadsheet sheets (for ``--to FILE.xlsx``)."""
    sheets: dict[str, tuple[list[str], list[list[str]]]] = {}
    if "groups" in report:
        sheets["未答问题"] = (["提问次数", "不同问法", "示例", "最接近的条目", "最接近的问题", "首次", "最近"], [
            [str(g["asked"]), str(g["distinct"]), "\n".join(g["examples"]), g["closest_entry"] or "",
             g["closest_question"], g["first"], g["last"]] for g in report["groups"]])
        sheets["差评条目"] = (["条目", "问题", "👎", "👍", "差评时的提问"], [
            [d["entry_id"], d["question"], str(d["down"]), str(d["up"]), "\n".join(d["examples"])]
            for d in report["disliked"]])
    else:
        sheets["热门问题"] = (["问题", "次数", "答复率"], [
            [q["query"], str(q["asked"]), f"{q['answered_ratio']:.0%}"] for q in report["questions"]])
        sheets["热门条目"] = (["条目", "问题", "答复次数"], [
            [e["entry_id"], e["question"], str(e["answered"])] for e in report["entries"]])
        sheets["分类"] = (["分类", "提问", "答复率"], [
            [c["category"], str(c["asked"]), f"{c['answered_ratio']:.0%}"] for c in report["by_category"]])
        sheets["每日"] = (["日期", "提问", "答复率"], [
            [d["day"], str(d["asked"]), f"{d['answered_ratio']:.0%}"] for d in report["by_day"]])
    return sheets
