"""What residents tell us: the questions they ask (answered or not) and feedback on answers.

SQLAlchemy Core over one database URL (``QA_DATABASE_URL``): a SQLite file by default,
PostgreSQL when several instances share it. Each write is committed before the response
goes out; SQLite runs in WAL mode so a killed server loses nothing it acknowledged.

Only the question text (normalised), whether it was answered and by which entry, the verdict,
an opaque session id and the time are kept: no IP address, no user identity. A conversation's
last question is kept for follow-ups until it has been idle ``QA_SESSION_TTL_SECONDS``.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
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

queries = Table(
    "queries", metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("query", Text, nullable=False),
    Column("answered", Boolean, nullable=False, index=True),
    Column("entry_id", String(64)),  # the answer, or the closest entry when not answered
    Column("category", String(64)),
    Column("score", Float),
    Column("channel", String(16), nullable=False),
)

# A conversation's last question, so a follow-up (那企业呢？) can be read with it: one row per
# session, replaced each turn, forgotten after ``session_ttl_seconds`` idle; at most
# ``sessions_max`` rows (the longest idle go first). In the database, so every worker and replica
# sees the same conversation.
sessions = Table(
    "sessions", metadata,
    Column("id", String(64), primary_key=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, index=True),
    Column("question", Text, nullable=False),  # the last question as understood (after any follow-up reading)
)

CHANNELS = ("chat", "widget", "api")
PRUNE_EVERY = 100  # turns between sweeps of expired and surplus sessions


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


class GroupCommit:
    """Rows written together: whoever finds no write in progress writes every row queued so far,
    in one transaction, and goes on until the queue is empty; the others wait for their row's commit.

    Each caller still returns only once its own row is committed (a resident's question survives
    ``kill -9`` the moment the answer is sent), but 16 requests at once make one transaction, not
    16 contending for SQLite's single writer: under load the queries log had been the largest
    cost of a ``/v1/search`` request. ``add`` blocks its thread; ``add_async`` awaits on the event
    loop, which hands the writing to a pool thread once per batch, not once per request.
    """

    def __init__(self, write: Callable[[list[dict[str, Any]]], None]) -> None:
        self._write = write
        self._lock = threading.Lock()
        self._queue: list[tuple[dict[str, Any], Callable[[BaseException | None], None]]] = []
        self._writing = False

    def _enqueue(self, row: dict[str, Any], settle: Callable[[BaseException | None], None]) -> bool:
        """Queue ``row``; True when the caller must now write (no write was in progress)."""
        with self._lock:
            self._queue.append((row, settle))
            lead = not self._writing
            self._writing = True
        return lead

    def _drain(self) -> None:
        """Write batches until the queue is empty, settling each row's waiter."""
        while True:
            with self._lock:
                batch, self._queue = self._queue, []
                if not batch:
                    self._writing = False
                    return
            try:
                self._write([r for r, _ in batch])
            except BaseException as exc:  # every waiter of this batch learns why
                for _, settle in batch:
                    settle(exc)
            else:
                for _, settle in batch:
                    settle(None)

    def add(self, row: dict[str, Any]) -> None:
        """Queue ``row`` and return once it is committed; raises what the write raised."""
        done: Future[None] = Future()

        def settle(exc: BaseException | None) -> None:
            done.set_exception(exc) if exc is not None else done.set_result(None)

        if self._enqueue(row, settle):
            self._drain()
        done.result()

    async def add_async(self, row: dict[str, Any]) -> None:
        """``add`` for the event loop: await the row's commit without holding a thread meanwhile."""
        import asyncio

        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def resolve(exc: BaseException | None) -> None:
            if done.done():  # the request was cancelled (client gone); its row is written all the same
                return
            done.set_exception(exc) if exc is not None else done.set_result(None)

        def settle(exc: BaseException | None) -> None:  # called on the writing thread
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody awaits the row
                loop.call_soon_threadsafe(resolve, exc)

        if self._enqueue(row, settle):
            loop.run_in_executor(None, self._drain)
        await done


class Store:
    """``Store(url)``: tables are created on first use; every method commits before returning."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine: Engine = create_engine(url, pool_pre_ping=True)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            shown = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)  # never print a password
            raise StoreUnavailable(f"QA_DATABASE_URL {shown!r} is not a usable database URL; use "
                                   "sqlite:///path/qa.sqlite3 or postgresql+psycopg://user:password@host/db") from exc
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._ready = False
        self._create_lock = threading.Lock()
        self._turns = 0
        self._queries = GroupCommit(self._insert_queries)

    def _unavailable(self, verb: str, exc: Exception) -> StoreUnavailable:
        url = self.engine.url.render_as_string(hide_password=True)
        return StoreUnavailable(f"cannot {verb} {url}: {type(exc).__name__}; check QA_DATABASE_URL")

    def _ensure_tables(self) -> None:
        if self._ready:
            return
        with self._create_lock:  # the first requests arrive together; one creates the tables
            if self._ready:
                return
            if self.engine.dialect.name == "sqlite" and self.engine.url.database:
                Path(self.engine.url.database).parent.mkdir(parents=True, exist_ok=True)
            try:
                metadata.create_all(self.engine)
            except SQLAlchemyError:  # another process created them between the check and the create
                metadata.create_all(self.engine)
            self._ready = True

    def _insert(self, table: Table, row: dict[str, Any]) -> int:
        try:
            self._ensure_tables()
            with self.engine.begin() as conn:
                result = conn.execute(insert(table).values(**row, created_at=datetime.now(UTC)))
                return int(result.inserted_primary_key[0])  # type: ignore[index]
        except (SQLAlchemyError, OSError) as exc:
            raise self._unavailable("write to", exc) from exc

    def _insert_queries(self, rows: list[dict[str, Any]]) -> None:
        try:
            self._ensure_tables()
            with self.engine.begin() as conn:
                conn.execute(insert(queries), rows)
        except (SQLAlchemyError, OSError) as exc:
            raise self._unavailable("write to", exc) from exc

    def add_feedback(self, item: Feedback) -> int:
        """Record 👍/👎 on an answer; returns the row id."""
        return self._insert(feedback, {
            "query": normalise(item.query), "entry_id": item.entry_id, "helpful": item.helpful,
            "session_id": item.session_id, "channel": item.channel,
        })

    @staticmethod
    def _query_row(query: str, answered: bool, entry_id: str | None, category: str | None, score: float | None,
                   channel: str) -> dict[str, Any]:
        return {"query": normalise(query), "answered": answered, "entry_id": entry_id, "category": category,
                "score": None if score is None else round(float(score), 4), "channel": channel,
                "created_at": datetime.now(UTC)}

    def add_query(self, query: str, answered: bool, entry_id: str | None, category: str | None,
                  score: float | None, channel: str = "api") -> bool:
        """Record a question and what it got; False when it could not be. Failure is logged,
        never raised: a resident still gets the answer when the database is down."""
        try:
            self._queries.add(self._query_row(query, answered, entry_id, category, score, channel))
        except StoreUnavailable as exc:
            log.error("question not recorded: %s", exc)
            return False
        return True

    async def add_query_async(self, query: str, answered: bool, entry_id: str | None, category: str | None,
                              score: float | None, channel: str = "api") -> bool:
        """``add_query`` awaited on the event loop (the API's routes): the same row, the same commit."""
        try:
            await self._queries.add_async(self._query_row(query, answered, entry_id, category, score, channel))
        except StoreUnavailable as exc:
            log.error("question not recorded: %s", exc)
            return False
        return True

    def last_question(self, session_id: str, ttl_seconds: int) -> str | None:
        """The session's last question if it was asked within ``ttl_seconds``; None otherwise or when
        the database cannot be read (a follow-up is then read on its own, never an error)."""
        try:
            self._ensure_tables()
            with self.engine.connect() as conn:
                row = conn.execute(select(sessions.c.question, sessions.c.updated_at)
                                   .where(sessions.c.id == session_id)).first()
        except (SQLAlchemyError, OSError) as exc:
            log.error("session not read: %s", self._unavailable("read", exc))
            return None
        if row is None:
            return None
        updated = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=UTC)
        return str(row.question) if (datetime.now(UTC) - updated).total_seconds() <= ttl_seconds else None

    def remember_question(self, session_id: str, question: str, ttl_seconds: int, max_sessions: int) -> bool:
        """Keep ``question`` as the session's last; every ``PRUNE_EVERY`` turns forget expired sessions
        and the longest idle beyond ``max_sessions``. False (logged) when it could not be written."""
        now = datetime.now(UTC)
        try:
            self._ensure_tables()
            with self.engine.begin() as conn:
                conn.execute(sessions.delete().where(sessions.c.id == session_id))
                conn.execute(insert(sessions).values(id=session_id, updated_at=now, question=question))
            with self._create_lock:
                self._turns += 1
                sweep = self._turns % PRUNE_EVERY == 0 or max_sessions <= PRUNE_EVERY
            if sweep:
                self.prune_sessions(ttl_seconds, max_sessions)
        except (SQLAlchemyError, OSError) as exc:
            log.error("session not kept: %s", self._unavailable("write to", exc))
            return False
        return True

    def prune_sessions(self, ttl_seconds: int, max_sessions: int) -> None:
        """Forget sessions idle longer than ``ttl_seconds``, then the longest idle beyond ``max_sessions``."""
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(sessions.delete().where(sessions.c.updated_at < now - timedelta(seconds=ttl_seconds)))
            keep = select(sessions.c.id).order_by(sessions.c.updated_at.desc()).limit(max_sessions)
            conn.execute(sessions.delete().where(sessions.c.id.not_in(keep.scalar_subquery())))

    def session_count(self) -> int:
        """How many sessions are remembered (expired ones included until the next sweep)."""
        self._ensure_tables()
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(sessions)).scalar_one())

    def _rows(self, table: Table, since: datetime | None, limit: int | None, *where: Any) -> list[dict[str, Any]]:
        try:
            self._ensure_tables()
            query = select(table).order_by(table.c.id.desc())
            if since is not None:
                query = query.where(table.c.created_at >= since)
            for condition in where:
                query = query.where(condition)
            if limit is not None:
                query = query.limit(limit)
            with self.engine.connect() as conn:
                return [dict(r._mapping) for r in conn.execute(query)]
        except (SQLAlchemyError, OSError) as exc:
            raise self._unavailable("read", exc) from exc

    def feedback_rows(self, since: datetime | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Feedback, newest first."""
        return self._rows(feedback, since, limit)

    def query_rows(self, since: datetime | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Every recorded question, newest first."""
        return self._rows(queries, since, limit)

    def unanswered_rows(self, since: datetime | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Questions the service could not answer, newest first."""
        return self._rows(queries, since, limit, queries.c.answered.is_(False))
