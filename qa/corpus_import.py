"""Editors' spreadsheets in and out of a corpus folder.

``import_corpus(FILE, DIR)`` reads entries (and, from an .xlsx, the 分类 and 政策 sheets when
present), writes a complete corpus next to ``DIR``, validates it, and only then puts it in
place of ``DIR``: an import with any problem changes nothing. Problems are reported as
``sheet 问答, row 12, column 答案: …``. Files the spreadsheet does not carry (dict/,
packs.jsonl, cases.jsonl, distinct_pairs.txt, review notes …, and policies.jsonl when there is no 政策 sheet)
are kept as they are.

``export_corpus(DIR, FILE)`` writes the same columns, so export → edit → import round-trips.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from qa.corpus import Category, Corpus, load_corpus
from qa.errors import CorpusInvalid, QAError
from qa.sheets import Row, read_table, write_table

# Canonical field -> the column header editors see; either is accepted on import.
ENTRY_COLUMNS = {
    "id": "编号", "category": "分类", "question": "问题", "alternates": "相似问法", "answer": "答案",
    "policy_ids": "政策编号", "department": "部门", "district": "区域", "audience": "对象", "tags": "标签",
    "updated": "更新日期", "status": "状态",
}
LIST_FIELDS = {"alternates", "policy_ids", "audience", "tags"}
CATEGORY_COLUMNS = {"name": "名称", "slug": "代码", "description": "说明"}
POLICY_COLUMNS = {
    "id": "编号", "title": "标题", "doc_no": "文号", "issuer": "发布机关", "published": "发布日期",
    "effective": "施行日期", "expires": "失效日期", "status": "状态", "url": "原文链接", "links": "生命周期链接",
}
ENTRY_SHEETS, CATEGORY_SHEETS, POLICY_SHEETS = ("问答", "entries"), ("分类", "categories"), ("政策", "policies")
_SPLIT_LIST = re.compile(r"\s*(?:\||\n)\s*")
_SPLIT_IDS = re.compile(r"[\s,，;；、|]+")


class ImportInvalid(QAError):
    """The spreadsheet has problems; nothing was written."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "\n".join(problems[:50])
        more = f"\n… and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"import refused, {len(problems)} problem(s); the corpus was not changed:\n{shown}{more}")


@dataclass
class ImportReport:
    target: Path
    entries: int
    categories: int
    generated_ids: int
    warnings: list[str] = field(default_factory=list)


def _field_of(header: str, columns: dict[str, str]) -> str | None:
    key = header.strip().lower().replace(" ", "_")
    for name, label in columns.items():
        if key in (name, label):
            return name
    return None


def _pick(sheets: dict[str, list[Row]], names: tuple[str, ...], default_first: bool) -> list[Row] | None:
    for name in sheets:
        if name.strip().lower() in names:
            return sheets[name]
    return next(iter(sheets.values())) if default_first and sheets else None


def slug_for(name: str, taken: set[str]) -> str:
    """A file-name-safe slug for a new category: the pinyin initials of its name (社会保险 → shbx)."""
    from pypinyin import Style, lazy_pinyin

    base = "".join(p[0] for p in lazy_pinyin(name, style=Style.NORMAL, errors="ignore") if p).lower()
    base = re.sub(r"[^a-z0-9]", "", base) or "cat"
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}{n}", n + 1
    return slug


def stable_id(slug: str, question: str) -> str:
    """The id of a row that has none: the same category and question always give the same id."""
    return f"{slug}-{hashlib.sha256(question.strip().encode()).hexdigest()[:8]}"


def _mapped(rows: list[Row], columns: dict[str, str], problems: list[str]) -> list[tuple[Row, dict[str, str]]]:
    out = []
    for row in rows:
        record: dict[str, str] = {}
        for header, value in row.cells.items():
            name = _field_of(header, columns)
            if name is None:
                problems.append(f"sheet {row.sheet}, row {row.number}, column {header}: unknown column; "
                                f"columns are {', '.join(columns.values())}")
            else:
                record[name] = value
        out.append((row, record))
    return out


def _dedupe_unknown_columns(problems: list[str]) -> list[str]:
    """Report an unknown column once per sheet, not once per row."""
    seen: set[tuple[str, str]] = set()
    out = []
    for p in problems:
        m = re.match(r"sheet (.*?), row \d+, column (.*?): unknown column", p)
        if m:
            if (m[1], m[2]) in seen:
                continue
            seen.add((m[1], m[2]))
        out.append(p)
    return out


def import_corpus(source: Path, target: Path) -> ImportReport:
    """Import a spreadsheet into the corpus folder ``target`` (created or replaced as a whole)."""
    sheets = read_table(source)
    problems: list[str] = []
    entry_rows = _pick(sheets, ENTRY_SHEETS, default_first=True) or []
    category_rows = _pick(sheets, CATEGORY_SHEETS, default_first=False)
    policy_rows = _pick(sheets, POLICY_SHEETS, default_first=False)
    if not entry_rows:
        raise ImportInvalid([f"{source}: no entry rows (a sheet named 问答 with a header row, then one row per entry)"])

    existing = target / "categories.jsonl"
    categories: dict[str, Category] = {}
    if category_rows is not None:
        for row, rec in _mapped(category_rows, CATEGORY_COLUMNS, problems):
            if not rec.get("name"):
                problems.append(f"sheet {row.sheet}, row {row.number}, column 名称: missing")
                continue
            categories[rec["name"]] = Category(rec["name"], rec.get("slug", ""), rec.get("description", ""))
    elif existing.exists():
        for line in existing.read_text(encoding="utf-8").splitlines():
            if line.strip():
                c = json.loads(line)
                categories[c["name"]] = Category(c["name"], c["slug"], c.get("description", ""))

    entries = _mapped(entry_rows, ENTRY_COLUMNS, problems)
    for row, rec in entries:
        name = rec.get("category", "")
        if name and name not in categories:
            if category_rows is not None:
                problems.append(f"sheet {row.sheet}, row {row.number}, column 分类: {name!r} is not in the 分类 sheet")
            else:
                categories[name] = Category(name, "", "")
    taken = {c.slug for c in categories.values() if c.slug}
    for name, c in list(categories.items()):
        if not c.slug:
            slug = slug_for(name, taken)
            taken.add(slug)
            categories[name] = Category(name, slug, c.description)

    generated = 0
    by_file: dict[str, list[tuple[Row, dict[str, object]]]] = {}
    for row, rec in entries:
        category = categories.get(rec.get("category", ""))
        record: dict[str, object] = {}
        for name in ENTRY_COLUMNS:
            value = rec.get(name, "")
            if name in LIST_FIELDS:
                parts = _SPLIT_IDS.split(value) if name in ("policy_ids", "audience", "tags") else \
                    _SPLIT_LIST.split(value)
                record[name] = [p for p in (x.strip() for x in parts) if p]
            elif value:
                record[name] = value
        if not record.get("id") and category and rec.get("question"):
            record = {"id": stable_id(category.slug, rec["question"]), **record}
            generated += 1
        if not record.get("audience"):
            record.pop("audience")
        by_file.setdefault(category.slug if category else "_uncategorised", []).append((row, record))

    policies_text: str | None = None
    if policy_rows is not None:
        lines = []
        for row, rec in _mapped(policy_rows, POLICY_COLUMNS, problems):
            policy: dict[str, object] = {k: rec.get(k, "") for k in POLICY_COLUMNS}
            for key in ("effective", "expires"):
                policy[key] = rec.get(key) or None
            try:
                if rec.get("links"):
                    policy["links"] = json.loads(rec["links"])
                else:
                    policy.pop("links")
            except json.JSONDecodeError:
                problems.append(f"sheet {row.sheet}, row {row.number}, column 生命周期链接: not a JSON object "
                                '(write {"解读": "https://…"})')
            lines.append(json.dumps(policy, ensure_ascii=False))
        policies_text = "\n".join(lines) + "\n"
    problems = _dedupe_unknown_columns(problems)
    if problems:
        raise ImportInvalid(problems)

    staging = target.parent / f".{target.name}.import-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "entries").mkdir(parents=True)
    try:
        # Everything the spreadsheet does not carry is kept: nothing in the folder is lost.
        written = {"entries", "categories.jsonl"} | ({"policies.jsonl"} if policies_text is not None else set())
        for path in target.iterdir() if target.is_dir() else []:
            if path.name not in written:
                (shutil.copytree if path.is_dir() else shutil.copy2)(path, staging / path.name)
        if policies_text is not None:
            (staging / "policies.jsonl").write_text(policies_text, encoding="utf-8")
        (staging / "categories.jsonl").write_text("".join(
            json.dumps({k: v for k, v in asdict(c).items() if v or k != "description"}, ensure_ascii=False) + "\n"
            for c in categories.values()), encoding="utf-8")
        origin = _Origins()
        for slug, items in by_file.items():
            items.sort(key=lambda item: str(item[1].get("id", "")))
            relative = f"entries/{slug}.jsonl"
            with (staging / relative).open("w", encoding="utf-8") as out:
                for number, (row, record) in enumerate(items, 1):
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
                    origin.add(relative, number, row, str(record.get("id", "")))
        try:
            corpus = load_corpus(staging)
        except CorpusInvalid as exc:
            raise ImportInvalid([origin.locate(p) for p in exc.problems]) from None
        _replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ImportReport(target=target, entries=len(corpus.entries), categories=len(corpus.categories),
                        generated_ids=generated, warnings=[origin.locate(w) for w in corpus.warnings])


_WHERE = re.compile(r"^(entries/[^:]+\.jsonl):(\d+): (\w+): (.*)$", re.S)
_BY_ID = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]*): (\w+): (.*)$", re.S)
_MENTION = re.compile(r"entries/[^:\s]+\.jsonl:(\d+)")


class _Origins:
    """Where each written entry line came from, to report problems by sheet, row and column."""

    def __init__(self) -> None:
        self.lines: dict[tuple[str, int], Row] = {}
        self.ids: dict[str, Row] = {}

    def add(self, relative: str, number: int, row: Row, entry_id: str) -> None:
        self.lines[(relative, number)] = row
        self.ids[entry_id] = row

    def locate(self, problem: str) -> str:
        """``entries/x.jsonl:3: answer: …`` (or ``gjj-0001: question: …``, from checks across
        entries) → ``sheet 问答, row 12, column 答案: …``; other problems as they are."""
        m = _WHERE.match(problem)
        if m and (m[1], int(m[2])) in self.lines:
            row, fieldname, message = self.lines[(m[1], int(m[2]))], m[3], m[4]
        else:
            m = _BY_ID.match(problem)
            if not m or m[1] not in self.ids:
                return problem
            row, fieldname, message = self.ids[m[1]], m[2], m[3]

        def mention(found: re.Match[str]) -> str:
            other = self.lines.get((found[0].rsplit(":", 1)[0], int(found[1])))
            return f"row {other.number}" if other else found[0]

        column = ENTRY_COLUMNS.get(fieldname, fieldname)
        return f"sheet {row.sheet}, row {row.number}, column {column}: {_MENTION.sub(mention, message)}"


def _replace(staging: Path, target: Path) -> None:
    """Put the staged corpus where the target was; the old one is kept until the swap is done."""
    if not target.exists():
        os.replace(staging, target)
        return
    old = target.parent / f".{target.name}.old-{int(time.time())}-{os.getpid()}"
    os.replace(target, old)
    try:
        os.replace(staging, target)
    except OSError:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _cell(value: object) -> str:
    if isinstance(value, list):
        return "\n".join(map(str, value))
    return "" if value is None else str(value)


def export_corpus(corpus: Corpus, dest: Path) -> int:
    """Write the corpus's entries (and, to an .xlsx, its categories and policies) to a spreadsheet."""
    english = dest.suffix.lower() == ".jsonl"
    header = list(ENTRY_COLUMNS) if english else list(ENTRY_COLUMNS.values())
    rows = []
    for entry in corpus.entries:
        record = asdict(entry)
        rows.append([_cell(record[name]) if name not in ("policy_ids", "audience", "tags")
                     else ", ".join(record[name]) for name in ENTRY_COLUMNS])
    sheets = {"问答": (header, rows)}
    if dest.suffix.lower() == ".xlsx":
        sheets["分类"] = (list(CATEGORY_COLUMNS.values()),
                        [[c.name, c.slug, c.description] for c in corpus.categories])
        policy_rows = []
        for p in corpus.policies.values():
            record = asdict(p)
            record["links"] = json.dumps(p.links, ensure_ascii=False) if p.links else ""
            policy_rows.append([_cell(record[k]) for k in POLICY_COLUMNS])
        sheets["政策"] = (list(POLICY_COLUMNS.values()), policy_rows)
    write_table(dest, sheets)
    return len(rows)
