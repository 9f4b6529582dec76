"""What residents tell us: feedback on answers and the questions we could not answer.

SQLAlchemy Core over one database URL (``QA_DATABASE_URL``): a SQLite file by default,
PostgreSQL when several instances share it. Each write is committed before the response
goes out; SQLite runs in WAL mode so a killed server loses nothing it acknowledged.

Only the question text (normalised), the entry id, the verdict, an opaque session id and
the time are kept: no IP address, no user identity.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from qa.errors import QAError
from qa.text import normalise

log = logging.getLogger(__name__)

metadata = MetaData()

feedback = Table(
    "feedback", metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("query", Text, nullable=False),
    Column("entry_id", String(64), nullable=False, index=True),
    Column("helpful", Boolean, nullable=False),
    Column("session_id", String(64)),
    Column("channel", String(16), nullable=False),
)

unanswered = Table(
    "unanswered", metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("query", Text, nullable=False),
    Column("top_entry_id", String(64)),
    Column("top_score", String(16)),
    Column("channel", String(16), nullable=False),
)

CHANNELS = ("chat", "widget", "api")


class StoreUnavailable(QAError):
    """The feedback database cannot be written."""


@dataclass(frozen=True)
class Feedback:
    query: str
    entry_id: str
    helpful: bool
    session_id: str | None = None
    channel: str = "api"


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class Store:
    """``Store(url)``: tables are created on first use; every method commits before returning."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._ready = False

    def _ensure_tables(self) -> None:
        if not self._ready:
            if self.engine.dialect.name == "sqlite" and self.engine.url.database:
                Path(self.engine.url.database).parent.mkdir(parents=True, exist_ok=True)
            metadata.create_all(self.engine)
            self._ready = True

    def _insert(self, table: Table, row: dict[str, Any]) -> int:
        try:
            self._ensure_tables()
            with self.engine.begin() as conn:
                result = conn.execute(insert(table).values(**row, created_at=datetime.now(UTC)))
                return int(result.inserted_primary_key[0])  # type: ignore[index]
        except (SQLAlchemyError, OSError) as exc:
            raise StoreUnavailable(f"cannot write to {self.engine.url.render_as_string(hide_password=True)}: "
                                   f"{type(exc).__name__}; check QA_DATABASE_URL") from exc

    def add_feedback(self, item: Feedback) -> int:
        """Record 👍/👎 on an answer; returns the row id."""
        return self._insert(feedback, {
            "query": normalise(item.query), "entry_id": item.entry_id, "helpful": item.helpful,
            "session_id": item.session_id, "channel": item.channel,
        })

    def add_unanswered(self, query: str, top_entry_id: str | None, top_score: float | None,
                       channel: str = "api") -> None:
        """Record a question the service could not answer. Failure is logged, never raised:
        a resident still gets the fallback answer when the database is down."""
        try:
            self._insert(unanswered, {
                "query": normalise(query), "top_entry_id": top_entry_id,
                "top_score": None if top_score is None else f"{top_score:.4f}", "channel": channel,
            })
        except StoreUnavailable as exc:
            log.error("unanswered question not recorded: %s", exc)

    def feedback_rows(self, limit: int = 1000) -> list[dict[str, Any]]:
        self._ensure_tables()
        with self.engine.connect() as conn:
            rows = conn.execute(select(feedback).order_by(feedback.c.id.desc()).limit(limit))
            return [dict(r._mapping) for r in rows]

    def unanswered_rows(self, limit: int = 1000) -> list[dict[str, Any]]:
        self._ensure_tables()
        with self.engine.connect() as conn:
            rows = conn.execute(select(unanswered).order_by(unanswered.c.id.desc()).limit(limit))
            return [dict(r._mapping) for r in rows]
