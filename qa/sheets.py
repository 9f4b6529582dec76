"""Tables editors work in: read rows from .xlsx / .csv / .jsonl, write .xlsx / .csv / .jsonl.

A row keeps where it came from (sheet and row number as the editor sees them, header = row 1),
so every problem can be reported as "sheet, row, column".
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from qa.errors import QAError

FORMATS = (".xlsx", ".csv", ".jsonl")


class SheetUnreadable(QAError):
    """A spreadsheet that cannot be opened or has no header row."""


@dataclass
class Row:
    sheet: str
    number: int  # 1-based, as the editor sees it (the header is row 1)
    cells: dict[str, str]  # header -> cell text


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _records(sheet: str, header: list[Any], rows: list[tuple[int, list[Any]]]) -> list[Row]:
    names = [_text(h) for h in header]
    out = []
    for number, values in rows:
        cells = {names[i]: _text(v) for i, v in enumerate(values) if i < len(names) and names[i]}
        if any(cells.values()):
            out.append(Row(sheet, number, cells))
    return out


def read_table(path: Path) -> dict[str, list[Row]]:
    """Rows of every sheet (an .xlsx) or of the one table (.csv, .jsonl), by sheet name."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise SheetUnreadable(f"{path}: unsupported format {suffix or '(none)'}; use {', '.join(FORMATS)}")
    if not path.is_file():
        raise SheetUnreadable(f"{path}: no such file")
    try:
        if suffix == ".xlsx":
            return _read_xlsx(path)
        if suffix == ".csv":
            with path.open(encoding="utf-8-sig", newline="") as f:
                table = list(csv.reader(f))
            if not table:
                raise SheetUnreadable(f"{path}: empty file; the first row must name the columns")
            return {path.name: _records(path.name, table[0], [(i, r) for i, r in enumerate(table[1:], 2)])}
        return {path.name: _read_jsonl(path)}
    except UnicodeDecodeError as exc:
        raise SheetUnreadable(f"{path}: not UTF-8 text ({exc.reason}); save it as UTF-8") from exc


def _read_xlsx(path: Path) -> dict[str, list[Row]]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, OSError, KeyError, ValueError) as exc:
        raise SheetUnreadable(f"{path}: not a readable .xlsx workbook ({type(exc).__name__})") from exc
    sheets = {}
    for ws in book.worksheets:
        table = list(ws.iter_rows(values_only=True))
        if table:
            sheets[ws.title] = _records(ws.title, list(table[0]), [(i, list(r)) for i, r in enumerate(table[1:], 2)])
    book.close()
    return sheets


def _read_jsonl(path: Path) -> list[Row]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SheetUnreadable(f"{path}:{number}: invalid JSON ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise SheetUnreadable(f"{path}:{number}: each line must be a JSON object")
        cells = {k: "\n".join(map(_text, v)) if isinstance(v, list) else _text(v) for k, v in record.items()}
        rows.append(Row(path.name, number, cells))
    return rows


def _defused(cell: object) -> object:
    if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + cell
    return cell


def write_table(path: Path, sheets: dict[str, tuple[list[str], list[list[str]]]], untrusted: bool = False) -> None:
    """Write sheets (name -> (header, rows)); .csv and .jsonl take the first sheet only.

    In .xlsx a text starting with ``=`` is always stored as text, never as a formula. ``untrusted``
    (text residents typed, as in reports) also defuses such cells in .csv, which a spreadsheet
    would otherwise evaluate on opening: they get a leading apostrophe.
    """
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise SheetUnreadable(f"{path}: unsupported format {suffix or '(none)'}; use {', '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if suffix == ".xlsx":
        from openpyxl import Workbook
        from openpyxl.styles import Alignment, Font

        book = Workbook()
        book.remove(book.active)  # type: ignore[arg-type]
        for name, (header, rows) in sheets.items():
            ws = book.create_sheet(name)
            ws.append(header)
            for cell in ws[1]:
                cell.font = Font(bold=True)
            for row in rows:
                ws.append(row)
                for cell in ws[ws.max_row]:
                    if isinstance(cell.value, str) and cell.value.startswith("="):
                        cell.data_type = "s"  # text that looks like a formula stays text
            ws.freeze_panes = "A2"
            for column in ws.columns:
                longest = max((len(str(c.value or "")) for c in column), default=8)
                ws.column_dimensions[column[0].column_letter].width = min(60, max(10, longest * 1.6))
                for c in column[1:]:
                    c.alignment = Alignment(wrap_text=True, vertical="top")
        book.save(tmp)
    else:
        header, rows = next(iter(sheets.values()))
        if suffix == ".csv":
            with tmp.open("w", encoding="utf-8-sig", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(header)
                writer.writerows([[_defused(c) for c in row] for row in rows] if untrusted else rows)
        else:
            with tmp.open("w", encoding="utf-8") as f:
                for row in rows:
                    f.write(json.dumps(dict(zip(header, row, strict=True)), ensure_ascii=False) + "\n")
    tmp.replace(path)
