"""The feedback and questions store, on SQLite and on a real PostgreSQL server, and the editors' reports.

PostgreSQL: ``.ci/run`` starts Debian's server and sets ``QA_TEST_POSTGRES_URL``
(``export QA_TEST_POSTGRES_URL=$(.ci/postgres)`` does the same on a developer's machine).
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from qa.reports import report_sheets, top_report, unanswered_report
from qa.store import Feedback, Store, StoreUnavailable


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        yield Store(f"sqlite:///{tmp_path / 'qa.sqlite3'}")
        return
    url = os.environ.get("QA_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("no PostgreSQL server: export QA_TEST_POSTGRES_URL=$(.ci/postgres) (.ci/run does)")
    # A schema of its own per test, so runs never see each other's rows.
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in url else "?"
    yield Store(f"{url}{separator}options=-csearch_path%3D{schema}")
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def test_feedback_and_questions_are_kept_and_read_back(store: Store) -> None:
    row = store.add_feedback(Feedback(query="公積金 怎麼提取", entry_id="gjj-0140", helpful=True, session_id="s1",
                                      channel="chat"))
    store.add_query("今天天气怎么样", False, "shengtai-0045", "生态环境", 0.31, "widget")
    store.add_query("公积金怎么提取", True, "gjj-0140", "住房公积金", 0.71, "api")
    feedback = store.feedback_rows()
    assert len(feedback) == 1 and feedback[0]["id"] == row
    assert (feedback[0]["query"], feedback[0]["helpful"], feedback[0]["channel"]) == ("公积金 怎么提取", True, "chat")
    unanswered = store.unanswered_rows()
    assert [r["query"] for r in unanswered] == ["今天天气怎么样"] and unanswered[0]["channel"] == "widget"
    assert len(store.query_rows()) == 2
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    assert store.query_rows(since=tomorrow) == [] and store.feedback_rows(since=tomorrow) == []


def test_sqlite_runs_in_wal_mode_and_commits_before_returning(tmp_path: Path) -> None:
    path = tmp_path / "qa.sqlite3"
    store = Store(f"sqlite:///{path}")
    store.add_feedback(Feedback(query="社保", entry_id="shebao-0001", helpful=False))
    # Another connection (another process after a crash) sees the row at once.
    with sqlite3.connect(path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert other.execute("SELECT query, helpful FROM feedback").fetchall() == [("社保", 0)]


def test_a_database_url_that_is_not_one_names_the_setting() -> None:
    with pytest.raises(StoreUnavailable, match="QA_DATABASE_URL 'not a url'"):
        Store("not a url")
    with pytest.raises(StoreUnavailable) as refused:
        Store("postgres+nodriver://editor:hunter2@db.example/qa")
    assert "hunter2" not in str(refused.value) and "editor:***@" in str(refused.value)


def test_a_database_that_is_down_degrades_to_not_recording(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "file").write_text("x")
    store = Store(f"sqlite:///{tmp_path / 'file' / 'qa.sqlite3'}")
    store.add_query("社保怎么交", True, "shebao-0001", "社会保险", 0.8)  # logged, not raised
    assert "question not recorded" in caplog.text
    with pytest.raises(StoreUnavailable, match="QA_DATABASE_URL"):
        store.add_feedback(Feedback(query="社保", entry_id="shebao-0001", helpful=True))


def test_unanswered_report_groups_similar_questions_largest_first(store: Store, encoder) -> None:
    for q in ["今天天气怎么样", "今天天气怎么样", "今天天气如何", "火车票怎么退", "高铁票怎么退票", "今天天气怎么样？"]:
        store.add_query(q, False, "shengtai-0045", "生态环境", 0.3, "chat")
    store.add_query("公积金怎么提取", True, "gjj-0140", "住房公积金", 0.7)
    store.add_feedback(Feedback(query="公积金怎么提取", entry_id="gjj-0140", helpful=False))
    store.add_feedback(Feedback(query="公积金提取要多久", entry_id="gjj-0140", helpful=False))
    store.add_feedback(Feedback(query="失业金", entry_id="shebao-0013", helpful=True))
    report = unanswered_report(store, encoder, questions={"gjj-0140": "住房公积金怎么提取？"})
    assert report["unanswered"] == 6
    weather, tickets = report["groups"][0], report["groups"][1]
    assert weather["asked"] == 4 and set(weather["examples"]) == {"今天天气怎么样", "今天天气如何", "今天天气怎么样?"}
    assert tickets["asked"] == 2 and set(tickets["examples"]) == {"火车票怎么退", "高铁票怎么退票"}
    assert weather["closest_entry"] == "shengtai-0045"
    assert report["disliked"] == [{"entry_id": "gjj-0140", "question": "住房公积金怎么提取？", "down": 2, "up": 0,
                                   "examples": ["公积金怎么提取", "公积金提取要多久"]}]
    sheets = report_sheets(report)
    assert sheets["未答问题"][1][0][0] == "4"


def test_top_report_counts_questions_entries_categories_and_days(store: Store) -> None:
    for q, answered, entry, category in [("公积金怎么提取", True, "gjj-0140", "住房公积金")] * 3 + [
        ("社保怎么交", True, "shebao-0001", "社会保险"), ("今天天气怎么样", False, "shengtai-0045", "生态环境")]:
        store.add_query(q, answered, entry, category, 0.5)
    report = top_report(store)
    assert report["asked"] == 5 and report["answered_ratio"] == 0.8
    assert report["questions"][0] == {"query": "公积金怎么提取", "asked": 3, "answered_ratio": 1.0}
    assert report["entries"][0]["entry_id"] == "gjj-0140" and report["entries"][0]["answered"] == 3
    by_category = {c["category"]: c for c in report["by_category"]}
    assert by_category["生态环境"]["answered_ratio"] == 0.0 and by_category["住房公积金"]["asked"] == 3
    assert report["by_day"] == [{"day": datetime.now(UTC).date().isoformat(), "asked": 5, "answered_ratio": 0.8}]


def test_the_first_writes_arriving_together_are_all_kept(store: Store) -> None:
    """The first requests after start-up race to create the tables; none of their rows may be lost."""
    import threading

    def ask(n: int) -> None:
        for i in range(10):
            assert store.add_query(f"问题{n}-{i}", False, None, None, None)

    workers = [threading.Thread(target=ask, args=(n,)) for n in range(12)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(store.query_rows(None, None)) == 120


@pytest.mark.parametrize("caller", ["threads", "event_loop"])
def test_each_question_is_committed_before_its_request_goes_on_even_when_written_together(
        tmp_path: Path, caller: str) -> None:
    """Questions arriving together share a transaction (GroupCommit), yet each caller returns only
    once its own row is in the database; a failed write reports not-recorded and the next one works.
    The chat calls from threads; the API's routes await on the event loop (``add_query_async``)."""
    import asyncio
    import threading

    folder = tmp_path / "db"
    folder.write_text("not a folder yet")  # the database cannot be opened
    path = folder / "qa.sqlite3"
    store = Store(f"sqlite:///{path}")
    seen: list[int] = []

    def visible(n: int) -> int:  # another process sees it the moment the call returns
        with sqlite3.connect(path) as other:
            return other.execute("SELECT count(*) FROM queries WHERE query = ?", (f"问题{n}",)).fetchone()[0]

    if caller == "threads":
        assert store.add_query("社保怎么交", True, "shebao-0001", "社会保险", 0.8) is False
        folder.unlink()
        folder.mkdir()

        def ask(n: int) -> None:
            assert store.add_query(f"问题{n}", False, None, None, None)
            seen.append(visible(n))

        workers = [threading.Thread(target=ask, args=(n,)) for n in range(16)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    else:
        async def ask_async(n: int) -> None:
            assert await store.add_query_async(f"问题{n}", False, None, None, None)
            seen.append(visible(n))

        async def main() -> None:
            assert await store.add_query_async("社保怎么交", True, "shebao-0001", "社会保险", 0.8) is False
            folder.unlink()
            folder.mkdir()
            await asyncio.gather(*(ask_async(n) for n in range(16)))

        asyncio.run(main())
    assert seen == [1] * 16
    assert sorted(r["query"] for r in store.query_rows(None, None)) == sorted(f"问题{n}" for n in range(16))


def test_reports_keep_what_residents_typed_as_text_in_spreadsheets(
        store: Store, encoder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from openpyxl import load_workbook

    from qa.sheets import write_table

    hostile = ['=HYPERLINK("http://evil.example","点我")', "+1+cmd|' /C calc'!A0", "<script>alert(1)</script>"]
    for query in hostile:
        store.add_query(query, False, None, None, None)
    sheets = report_sheets(unanswered_report(store, encoder))
    write_table(tmp_path / "r.xlsx", sheets, untrusted=True)
    cells = [c for row in load_workbook(tmp_path / "r.xlsx")["未答问题"].iter_rows() for c in row]
    formula = next(c for c in cells if str(c.value).startswith("=hyperlink"))  # stored normalised (lower case)
    assert formula.data_type == "s" and formula.value == hostile[0].lower()
    write_table(tmp_path / "r.csv", sheets, untrusted=True)
    text = (tmp_path / "r.csv").read_text(encoding="utf-8-sig")
    assert "'=hyperlink" in text and "'+1+cmd" in text and "<script>alert(1)</script>" in text
