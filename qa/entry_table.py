"""A build's entries, parsed when asked for rather than all at load.

``entries.jsonl`` holds each entry as the service answers with it (policies resolved), one JSON
line per entry row. Parsed whole it was the largest part of a server's memory (554 MB of 1.3 GB
at 100,000 entries, 5 s of its start-up), while a search reads the few entries it returns. Only
where each line starts is kept; an entry is read (``pread``) and parsed when asked for, and the
last few thousand read are kept parsed. What must be known of every entry at once (its id, its
category, when its policies lapse) comes from ``entry_columns.json``, written beside it by the build.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, BinaryIO, overload

import numpy as np
import orjson

COLUMNS = "entry_columns.json"
KEEP_PARSED = 4096


def column_values(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """The columns file's content for the entries (in row order) a build writes."""
    return {"id": [d["id"] for d in documents], "category": [d["category"] for d in documents],
            "lapses_on": {str(row): d["lapses_on"] for row, d in enumerate(documents) if d.get("lapses_on")}}


def _line_starts(path: Path, chunk: int = 1 << 24) -> np.ndarray:
    """Where each line starts, and where the last one ends."""
    starts = [np.zeros(1, dtype=np.int64)]
    offset = 0
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            starts.append(np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == ord("\n")) + offset + 1)
            offset += len(block)
    return np.concatenate(starts)


def _read_line(file: BinaryIO, starts: np.ndarray, row: int) -> dict[str, Any]:
    start, end = int(starts[row]), int(starts[row + 1])
    return orjson.loads(os.pread(file.fileno(), end - start, start))  # type: ignore[no-any-return]


class EntryTable(Sequence[dict[str, Any]]):
    """Entry rows of one build: ``table[row]`` is the entry's dict (read-only by convention)."""

    def __init__(self, lines: Path, columns: Path) -> None:
        meta = orjson.loads(columns.read_bytes())
        self.ids: list[str] = meta["id"]
        self.categories: list[str] = meta["category"]
        self.lapses_on: dict[int, str] = {int(row): day for row, day in meta["lapses_on"].items()}
        self.rows: dict[str, int] = {entry_id: row for row, entry_id in enumerate(self.ids)}
        self._file = lines.open("rb")  # read with pread: no shared position, safe across threads
        self._starts = _line_starts(lines)
        self.lines = len(self._starts) - 1
        self._parse_row = partial(_read_line, self._file, self._starts)  # no cycle back to self
        self._parse = lru_cache(maxsize=KEEP_PARSED)(self._parse_row)

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, row: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, row: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, row: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(row, slice):
            return [self._parse(r) for r in range(len(self))[row]]
        if not -len(self) <= row < len(self):
            raise IndexError(row)
        return self._parse(row % len(self))  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[dict[str, Any]]:  # every entry parsed once, none kept
        for row in range(len(self)):
            yield self._parse_row(row)

    def by_id(self) -> ById:
        return ById(self)


class ById(Mapping[str, dict[str, Any]]):
    """The entries by id (``index.by_id[entry_id]``), parsed when read."""

    def __init__(self, table: EntryTable) -> None:
        self._table = table

    def __getitem__(self, entry_id: str) -> dict[str, Any]:
        return self._table[self._table.rows[entry_id]]

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._table.rows

    def __iter__(self) -> Iterator[str]:
        return iter(self._table.ids)

    def __len__(self) -> int:
        return len(self._table)
