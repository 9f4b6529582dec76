"""The corpus on disk: categories, the policy registry and Q&A entries, loaded and validated.

Layout of a corpus folder::

    categories.jsonl          one category per line: {"name", "slug", "description"}
    policies.jsonl            the policy registry, one policy per line
    entries/<slug>.jsonl      Q&A entries of one category, one entry per line, sorted by id
    dict/userdict.txt         terms jieba must keep whole
    dict/synonyms.txt         synonym groups, canonical term first
    packs.jsonl               policy packs (专题政策包): curated entries for one group of people
    cases.jsonl               everyday questions that several entries answer for different cases
                              (养老金能领多少: 职工 or 城乡居民), with the words that say which case
    distinct_pairs.txt        entry pairs an editor reviewed as different questions despite
                              near-identical wording (``id id  # why``), exempt from the
                              near-duplicate check

Validation collects every problem as ``file:line: field: message`` instead of
stopping at the first, so an editor can fix a whole batch in one pass.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
from collections.abc import Container, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from qa.errors import CorpusInvalid

POLICY_STATUSES = ("现行有效", "已修订", "已废止")
ENTRY_STATUSES = ("published", "draft", "retired")
AUDIENCES = ("个人", "企业")
# A policy's life from drafting to review (the city report's "政策全生命周期"); `links` maps a stage to a URL.
LIFECYCLE = ("制定", "发布", "解读", "兑现", "评估")
MIN_ANSWER_CHARS = 60
MAX_ANSWER_CHARS = 400
MIN_ALTERNATES = 3
MAX_CASES = 6  # a clarifying question offers at most this many options
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Category:
    name: str
    slug: str
    description: str = ""


@dataclass(frozen=True)
class Policy:
    id: str
    title: str
    doc_no: str
    issuer: str
    published: str
    status: str
    url: str
    effective: str | None = None
    expires: str | None = None
    links: dict[str, str] = field(default_factory=dict)  # lifecycle stage (制定 … 评估) -> URL


@dataclass(frozen=True)
class Entry:
    id: str
    category: str
    question: str
    alternates: list[str]
    answer: str
    policy_ids: list[str]
    department: str
    district: str = "全市"
    audience: list[str] = field(default_factory=lambda: ["个人"])
    tags: list[str] = field(default_factory=list)
    updated: str = ""
    status: str = "published"

    @property
    def phrasings(self) -> list[str]:
        """The question first, then every alternate."""
        return [self.question, *self.alternates]


@dataclass(frozen=True)
class Pack:
    """A policy pack (专题政策包): the entries one group of people needs, in reading order."""

    id: str
    title: str
    audience: str
    description: str
    entries: list[str]


@dataclass(frozen=True)
class Case:
    """One entry of a case group and the words a resident types to mean it (转出, 转到外地)."""

    entry: str
    words: list[str]


@dataclass(frozen=True)
class CaseGroup:
    """An everyday question (``ask``: 公积金转移怎么办) that its entries answer for different cases; a
    resident who asks it naming none of the cases' words is asked which one is meant."""

    id: str
    ask: str
    cases: list[Case]


@dataclass
class Corpus:
    root: Path
    categories: list[Category]
    policies: dict[str, Policy]
    entries: list[Entry]
    warnings: list[str] = field(default_factory=list)
    distinct_pairs: set[frozenset[str]] = field(default_factory=set)
    packs: list[Pack] = field(default_factory=list)
    cases: list[CaseGroup] = field(default_factory=list)

    @property
    def published(self) -> list[Entry]:
        return [e for e in self.entries if e.status == "published"]

    def answerable(self, today: str | None = None) -> list[Entry]:
        """Published entries still backed by a policy in force (``lapsed`` ones are left out)."""
        day = today or date.today().isoformat()
        return [e for e in self.published if not lapsed(e, self.policies, day)]

    def sha256(self) -> str:
        return corpus_sha256(self.root)


def corpus_files(root: Path) -> list[Path]:
    """Every file that defines the corpus, in a stable order."""
    files = [root / "categories.jsonl", root / "policies.jsonl"]
    files += sorted((root / "entries").glob("*.jsonl"))
    files += sorted((root / "dict").glob("*.txt"))
    files += [root / "distinct_pairs.txt", root / "packs.jsonl", root / "cases.jsonl"]
    return [f for f in files if f.exists()]


def corpus_sha256(root: Path) -> str:
    """A digest of the corpus files' names and bytes: equal digests, equal corpus."""
    digest = hashlib.sha256()
    for path in corpus_files(root):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


class _Problems:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.items: list[str] = []

    def add(self, path: Path, line: int, fieldname: str, message: str) -> None:
        rel = path.relative_to(self.root) if path.is_relative_to(self.root) else path
        self.items.append(f"{rel}:{line}: {fieldname}: {message}")


def _read_jsonl(path: Path, problems: _Problems) -> list[tuple[int, dict[str, Any]]]:
    records: list[tuple[int, dict[str, Any]]] = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problems.add(path, 1, "-", f"not UTF-8 ({exc.reason} at byte {exc.start}); save the file as UTF-8")
        return records
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.add(path, number, "-", f"invalid JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(record, dict):
            problems.add(path, number, "-", "each line must be one JSON object")
            continue
        records.append((number, record))
    return records


def _is_date(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def _text(record: dict[str, Any], key: str, path: Path, line: int, problems: _Problems, required: bool = True) -> str:
    value = record.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.add(path, line, key, "missing or empty")
        return ""
    if not isinstance(value, str):
        problems.add(path, line, key, f"must be a string, got {type(value).__name__}")
        return ""
    return value.strip()


def _text_list(record: dict[str, Any], key: str, path: Path, line: int, problems: _Problems) -> list[str]:
    value = record.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.add(path, line, key, "must be a list of strings")
        return []
    return [v.strip() for v in value if v.strip()]


def _load_categories(root: Path, problems: _Problems) -> list[Category]:
    path = root / "categories.jsonl"
    if not path.exists():
        problems.add(path, 0, "-", "file missing: a corpus needs categories.jsonl")
        return []
    categories: list[Category] = []
    seen: set[str] = set()
    for line, rec in _read_jsonl(path, problems):
        name = _text(rec, "name", path, line, problems)
        slug = _text(rec, "slug", path, line, problems)
        if slug and not _ID.match(slug):
            problems.add(path, line, "slug", f"{slug!r} must be letters, digits, '-', '_' or '.'")
        if name in seen:
            problems.add(path, line, "name", f"duplicate category {name!r}")
        seen.add(name)
        if name and slug:
            categories.append(Category(name=name, slug=slug, description=str(rec.get("description", ""))))
    return categories


def _unique_id(record: dict[str, Any], path: Path, line: int, problems: _Problems, seen: Container[str],
               kind: str) -> str:
    """A record's ``id``: present, well-formed and not used before in the same file."""
    rid = _text(record, "id", path, line, problems)
    if rid and not _ID.match(rid):
        problems.add(path, line, "id", f"{rid!r} must be letters, digits, '-', '_' or '.'")
    if rid in seen:
        problems.add(path, line, "id", f"duplicate {kind} id {rid!r}")
    return rid


def _load_policies(root: Path, problems: _Problems) -> dict[str, Policy]:
    path = root / "policies.jsonl"
    policies: dict[str, Policy] = {}
    if not path.exists():
        return policies
    for line, rec in _read_jsonl(path, problems):
        pid = _unique_id(rec, path, line, problems, policies, "policy")
        title = _text(rec, "title", path, line, problems)
        issuer = _text(rec, "issuer", path, line, problems)
        url = _text(rec, "url", path, line, problems)
        if url and not url.startswith(("https://", "http://")):
            problems.add(path, line, "url", f"{url!r} must start with https:// or http://")
        status = _text(rec, "status", path, line, problems)
        if status and status not in POLICY_STATUSES:
            problems.add(path, line, "status", f"{status!r} must be one of {', '.join(POLICY_STATUSES)}")
        for key in ("published", "effective", "expires"):
            value = rec.get(key)
            if (key == "published" or value is not None) and not _is_date(value):
                problems.add(path, line, key, f"{value!r} is not a date in YYYY-MM-DD form")
        doc_no = rec.get("doc_no") or ""
        links = rec.get("links") or {}
        if not isinstance(links, dict):
            problems.add(path, line, "links", f"must be an object mapping a stage ({', '.join(LIFECYCLE)}) to a URL")
            links = {}
        for stage, link in links.items():
            if stage not in LIFECYCLE:
                problems.add(path, line, "links", f"unknown stage {stage!r}; stages are {', '.join(LIFECYCLE)}")
            if not isinstance(link, str) or not link.startswith(("https://", "http://")):
                problems.add(path, line, "links", f"{stage}: {link!r} must start with https:// or http://")
        if pid:
            policies[pid] = Policy(
                id=pid, title=title, doc_no=str(doc_no), issuer=issuer, published=str(rec.get("published")),
                status=status, url=url, effective=rec.get("effective"), expires=rec.get("expires"), links=links,
            )
    return policies


def _load_entries(
    root: Path, categories: list[Category], policies: dict[str, Policy], problems: _Problems,
    warnings: list[str], require_policies: bool,
) -> list[Entry]:
    names = {c.name for c in categories}
    entries: list[Entry] = []
    seen_ids: dict[str, str] = {}
    files = sorted((root / "entries").glob("*.jsonl"))
    if not files:
        problems.add(root / "entries", 0, "-", "no entries: add entries/<category>.jsonl files")
    for path in files:
        last_id = ""
        for line, rec in _read_jsonl(path, problems):
            where = f"{path.relative_to(root)}:{line}"
            eid = _text(rec, "id", path, line, problems)
            if eid and not _ID.match(eid):
                problems.add(path, line, "id", f"{eid!r} must be letters, digits, '-', '_' or '.'")
            if eid in seen_ids:
                problems.add(path, line, "id", f"duplicate id {eid!r} (first at {seen_ids[eid]})")
            elif eid:
                seen_ids[eid] = where
            if eid and eid < last_id:
                warnings.append(f"{where}: id: {eid!r} is out of order; keep entries sorted by id")
            last_id = max(last_id, eid)
            category = _text(rec, "category", path, line, problems)
            if category and category not in names:
                problems.add(path, line, "category", f"unknown category {category!r}; add it to categories.jsonl")
            question = _text(rec, "question", path, line, problems)
            alternates = _text_list(rec, "alternates", path, line, problems)
            answer = _text(rec, "answer", path, line, problems)
            status = str(rec.get("status", "published"))
            if status not in ENTRY_STATUSES:
                problems.add(path, line, "status", f"{status!r} must be one of {', '.join(ENTRY_STATUSES)}")
            if status == "published" and answer:
                if len(answer) < MIN_ANSWER_CHARS or len(answer) > MAX_ANSWER_CHARS:
                    problems.add(path, line, "answer", f"{len(answer)} characters; a published answer has "
                                 f"{MIN_ANSWER_CHARS}–{MAX_ANSWER_CHARS}")
                if len(alternates) < MIN_ALTERNATES:
                    problems.add(path, line, "alternates", f"{len(alternates)} given; a published entry needs "
                                 f"at least {MIN_ALTERNATES} other ways people ask")
            policy_ids = _text_list(rec, "policy_ids", path, line, problems)
            for pid in policy_ids:
                if pid not in policies:
                    problems.add(path, line, "policy_ids", f"unknown policy id {pid!r}; add it to policies.jsonl")
            if not policy_ids:
                if require_policies and status == "published":
                    problems.add(path, line, "policy_ids", "a published entry must cite at least one policy")
                elif status == "published":
                    warnings.append(f"{where}: policy_ids: no source policy")
            audience = rec.get("audience", ["个人"])
            if isinstance(audience, str):
                audience = [audience]
            if not isinstance(audience, list) or not audience or any(a not in AUDIENCES for a in audience):
                problems.add(path, line, "audience", f"{audience!r} must be a list of {' / '.join(AUDIENCES)}")
                audience = ["个人"]
            updated = rec.get("updated", "")
            if updated and not _is_date(updated):
                problems.add(path, line, "updated", f"{updated!r} is not a date in YYYY-MM-DD form")
            department = _text(rec, "department", path, line, problems, required=False)
            district = _text(rec, "district", path, line, problems, required=False) or "全市"
            tags = _text_list(rec, "tags", path, line, problems)
            entries.append(Entry(
                id=eid, category=category, question=question, alternates=alternates, answer=answer,
                policy_ids=policy_ids, department=department, district=district, audience=list(audience),
                tags=tags, updated=str(updated), status=status,
            ))
    return entries


def _exact_duplicates(entries: list[Entry], problems: list[str]) -> None:
    from qa.text import normalise

    owner: dict[str, str] = {}
    for entry in entries:
        if entry.status != "published":
            continue
        for phrasing in entry.phrasings:
            key = normalise(phrasing).rstrip("？?。.!！ ")
            other = owner.setdefault(key, entry.id)
            if other != entry.id:
                problems.append(f"{entry.id}: question: {phrasing!r} is also a phrasing of {other}; "
                                "two entries must not compete for the same question")


def load_corpus(root: Path, require_policies: bool | None = None) -> Corpus:
    """Load and validate a corpus folder; raise ``CorpusInvalid`` listing every problem.

    ``require_policies`` (default: whether the corpus has a policy registry, ``policies.jsonl``)
    makes an entry without source policies a problem rather than a warning: the bundled corpus
    requires them; a freshly imported one may not have a registry yet.
    """
    root = Path(root)
    if require_policies is None:
        require_policies = (root / "policies.jsonl").exists()
    if not root.is_dir():
        raise CorpusInvalid([f"{root}: not a folder; point --corpus (or QA_CORPUS_DIR) at a corpus folder"])
    problems = _Problems(root)
    warnings: list[str] = []
    categories = _load_categories(root, problems)
    policies = _load_policies(root, problems)
    entries = _load_entries(root, categories, policies, problems, warnings, require_policies)
    _exact_duplicates(entries, problems.items)
    distinct = _load_distinct_pairs(root, {e.id for e in entries}, problems)
    published = {e.id for e in entries if e.status == "published"}
    packs = _load_packs(root, published, problems)
    cases = _load_cases(root, published, problems)
    if problems.items:
        raise CorpusInvalid(problems.items)
    today = date.today().isoformat()
    for entry in entries:
        if entry.status == "published" and lapsed(entry, policies, today):
            warnings.append(f"{entry.id}: policy_ids: every source policy is 已废止 or past its expiry date; "
                            "the entry is left out of answers until it cites a policy in force (or retire it)")
    return Corpus(root=root, categories=categories, policies=policies, entries=entries, warnings=warnings,
                  distinct_pairs=distinct, packs=packs, cases=cases)


def lapses_on(entry: Entry, policies: dict[str, Policy]) -> str | None:
    """The last day an entry is backed by a policy in force: None while any cited policy has no
    end date, "" when every one is already 已废止. After that day the entry is not answered."""
    cited = [policies[p] for p in entry.policy_ids if p in policies]
    if not cited:
        return None
    in_force = [p for p in cited if p.status != "已废止"]
    if not in_force:
        return ""
    if any(p.expires is None for p in in_force):
        return None
    return max(str(p.expires) for p in in_force)


def lapsed(entry: Entry, policies: dict[str, Policy], today: str) -> bool:
    """True when every policy the entry cites is 已废止 or past its ``expires`` date."""
    last = lapses_on(entry, policies)
    return last is not None and last < today


def _optional_records(path: Path, problems: _Problems, kind: str) -> Iterator[tuple[int, dict[str, Any], str]]:
    """(line, record, id) of an optional JSONL file (none when it is absent), ids checked unique."""
    if not path.exists():
        return
    seen: set[str] = set()
    for line, rec in _read_jsonl(path, problems):
        rid = _unique_id(rec, path, line, problems, seen, kind)
        seen.add(rid)
        yield line, rec, rid


def _load_packs(root: Path, published: set[str], problems: _Problems) -> list[Pack]:
    path = root / "packs.jsonl"
    packs: list[Pack] = []
    for line, rec, pid in _optional_records(path, problems, "pack"):
        title = _text(rec, "title", path, line, problems)
        audience = _text(rec, "audience", path, line, problems)
        description = _text(rec, "description", path, line, problems, required=False)
        ids = _text_list(rec, "entries", path, line, problems)
        if not ids:
            problems.add(path, line, "entries", "a pack lists at least one entry id")
        for eid in ids:
            if eid not in published:
                problems.add(path, line, "entries", f"{eid!r} is not a published entry")
        if len(set(ids)) != len(ids):
            problems.add(path, line, "entries", "lists an entry twice")
        packs.append(Pack(id=pid, title=title, audience=audience, description=description, entries=ids))
    return packs


def _load_cases(root: Path, published: set[str], problems: _Problems) -> list[CaseGroup]:
    from qa.text import normalise

    path = root / "cases.jsonl"
    groups: list[CaseGroup] = []
    for line, rec, gid in _optional_records(path, problems, "case group"):
        ask = _text(rec, "ask", path, line, problems)
        raw = rec.get("cases")
        if not isinstance(raw, list) or not 2 <= len(raw) <= MAX_CASES:
            problems.add(path, line, "cases", f"a case group lists 2–{MAX_CASES} cases: "
                         '[{"entry": "<entry id>", "words": ["…"]}, …]')
            continue
        cases: list[Case] = []
        owner: dict[str, str] = {}
        for number, item in enumerate(raw, 1):
            where = f"cases[{number}]"
            if not isinstance(item, dict) or not isinstance(item.get("entry"), str):
                problems.add(path, line, where, 'each case is {"entry": "<entry id>", "words": ["…"]}')
                continue
            eid = item["entry"]
            if eid not in published:
                problems.add(path, line, where, f"{eid!r} is not a published entry")
            words = item.get("words")
            if not isinstance(words, list) or not words or not all(isinstance(w, str) and w.strip() for w in words):
                problems.add(path, line, where, "words: list the words a resident types to mean this case")
                continue
            words = [normalise(w) for w in words]  # normalise lower-cases Latin too
            for word in words:
                if len(word) < 2:
                    problems.add(path, line, where, f"word {word!r} is one character: it would match too much")
                elif word in normalise(ask):
                    problems.add(path, line, where, f"word {word!r} is part of the ask {ask!r}: it names the "
                                 "topic every case shares, not this case")
                elif owner.get(word, eid) != eid:
                    problems.add(path, line, where, f"word {word!r} also names the case {owner[word]}")
                owner[word] = eid
            cases.append(Case(entry=eid, words=words))
        if len({c.entry for c in cases}) != len(cases):
            problems.add(path, line, "cases", "lists an entry twice")
        groups.append(CaseGroup(id=gid, ask=ask, cases=cases))
    return groups


def _load_distinct_pairs(root: Path, ids: set[str], problems: _Problems) -> set[frozenset[str]]:
    path = root / "distinct_pairs.txt"
    pairs: set[frozenset[str]] = set()
    if not path.exists():
        return pairs
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) != 2:
            problems.add(path, number, "-", "each line names two entry ids: `id id  # why they differ`")
            continue
        for eid in words:
            if eid not in ids:
                problems.add(path, number, "-", f"unknown entry id {eid!r}")
        pairs.add(frozenset(words))
    return pairs


def corpus_stats(corpus: Corpus) -> dict[str, Any]:
    """Counts an editor checks after a change."""
    published = corpus.published
    alternates = [len(e.alternates) for e in published] or [0]
    answers = [len(e.answer) for e in published] or [0]
    per_category = {c.name: 0 for c in corpus.categories}
    per_audience = {a: 0 for a in AUDIENCES}
    for entry in published:
        per_category[entry.category] = per_category.get(entry.category, 0) + 1
        for audience in entry.audience:
            per_audience[audience] += 1
    return {
        "entries": len(corpus.entries),
        "published": len(published),
        "policies": len(corpus.policies),
        "categories": len(corpus.categories),
        "per_category": per_category,
        "per_audience": per_audience,
        "alternates_per_entry": {"min": min(alternates), "mean": round(statistics.fmean(alternates), 2)},
        "answer_chars": {"min": min(answers), "median": statistics.median(answers), "max": max(answers)},
        "policies_cited": len({p for e in published for p in e.policy_ids}),
        "packs": len(corpus.packs),
        "case_groups": len(corpus.cases),
    }
