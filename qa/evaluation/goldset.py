"""The gold set: queries written the way people type, with the ids of the entries that answer them.

Files are JSONL, one query per line: ``{"query", "ids": [...], "style"}``. An empty ``ids``
marks an out-of-scope query whose right outcome is ``answered: false``. A ``followup`` query
also has ``context``, the question asked just before it in the same conversation; an
``ambiguous`` query lists every entry it could mean, and its right outcome is a clarifying
question rather than an answer. A gold query must
not copy an entry's phrasings (question or alternates): that would measure memory, not
understanding, so near-copies fail the set.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.errors import QAError
from qa.text import normalise

IN_SCOPE_STYLES = (
    "colloquial", "keywords", "typo", "abbreviation", "traditional", "traditional_tw", "traditional_hk", "pinyin",
    "long", "enterprise", "formal", "followup", "ambiguous",
)
OUT_OF_SCOPE_STYLES = ("chitchat", "off_topic", "gibberish", "injection")
NEAR_COPY_JACCARD = 0.8


class GoldSetInvalid(QAError):
    """The gold set has problems; the message lists them."""

    @classmethod
    def listing(cls, problems: list[str]) -> GoldSetInvalid:
        """One error naming every problem (the first 50 in full)."""
        return cls(f"gold set has {len(problems)} problem(s):\n" + "\n".join(problems[:50]))


@dataclass(frozen=True)
class GoldQuery:
    query: str
    ids: tuple[str, ...]
    style: str
    where: str
    context: str = ""  # the previous question of a follow-up

    @property
    def in_scope(self) -> bool:
        return bool(self.ids)


def gold_files(path: Path) -> list[Path]:
    return sorted(path.glob("*.jsonl")) if path.is_dir() else [path]


def set_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    for file in gold_files(path):
        digest.update(file.read_bytes())
    return digest.hexdigest()


def load_gold(path: Path) -> list[GoldQuery]:
    """Read a gold file or a folder of them; raise ``GoldSetInvalid`` listing every format problem."""
    if not path.exists():
        raise GoldSetInvalid(f"gold set {path} not found: pass --set FILE_OR_DIR")
    queries: list[GoldQuery] = []
    problems: list[str] = []
    for file in gold_files(path):
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            where = f"{file.name}:{number}"
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{where}: invalid JSON ({exc.msg})")
                continue
            query, ids, style = rec.get("query"), rec.get("ids", []), rec.get("style")
            if not isinstance(query, str) or not query.strip():
                problems.append(f"{where}: query: missing or empty")
                continue
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                problems.append(f"{where}: ids: must be a list of entry ids ([] for out-of-scope)")
                continue
            allowed = IN_SCOPE_STYLES if ids else OUT_OF_SCOPE_STYLES
            if style not in allowed:
                problems.append(f"{where}: style: {style!r} must be one of {', '.join(allowed)}")
            context = rec.get("context", "")
            if (style == "followup") != bool(context) or not isinstance(context, str):
                problems.append(f"{where}: context: a followup query needs the previous question as a string, "
                                "and only a followup query has one")
                continue
            if style == "ambiguous" and len(ids) < 2:
                problems.append(f"{where}: ids: an ambiguous query lists the two or more entries it could mean")
            queries.append(GoldQuery(query=query, ids=tuple(ids), style=str(style), where=where, context=context))
    if problems:
        raise GoldSetInvalid.listing(problems)
    if not queries:
        raise GoldSetInvalid(f"gold set {path} has no queries")
    return queries


def _bigrams(text: str) -> set[str]:
    text = "".join(ch for ch in normalise(text) if ch.isalnum())
    return {text[i : i + 2] for i in range(len(text) - 1)} or {text}


def check_against_corpus(
    queries: Iterable[GoldQuery], entries: Sequence[dict[str, Any]], threshold: float = NEAR_COPY_JACCARD
) -> list[str]:
    """Problems: unknown ids, and in-scope queries that copy or nearly copy an entry's phrasing."""
    known = {str(e["id"]) for e in entries}
    phrasings: list[tuple[str, str, set[str]]] = []
    postings: dict[str, list[int]] = {}
    for entry in entries:
        texts = [str(entry["question"]), *[str(a) for a in entry.get("alternates", [])]]  # type: ignore[attr-defined]
        for text in texts:
            grams = _bigrams(text)
            for gram in grams:
                postings.setdefault(gram, []).append(len(phrasings))
            phrasings.append((str(entry["id"]), text, grams))
    problems = []
    for q in queries:
        for eid in q.ids:
            if eid not in known:
                problems.append(f"{q.where}: ids: unknown entry {eid!r}")
        if not q.in_scope:
            continue
        grams = _bigrams(q.query)
        shared: dict[int, int] = {}
        for gram in grams:
            for idx in postings.get(gram, ()):
                shared[idx] = shared.get(idx, 0) + 1
        for idx, common in shared.items():
            owner, text, other = phrasings[idx]
            if common / len(grams | other) >= threshold:
                problems.append(f"{q.where}: query {q.query!r} nearly copies {owner}'s phrasing {text!r}; "
                                "write it the way a resident would, not from the corpus")
                break
    return problems
