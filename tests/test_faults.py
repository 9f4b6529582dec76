"""Faults with real processes: kill -9 during a build and of the server, a damaged index at
start-up, and a bounded soak run at concurrency 64."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from qa.config import Settings
from qa.index import build_index, current_build, load_index
from qa.soak import soak, start_server
from qa.store import Store


@pytest.fixture(scope="module")
def small_build(  # type: ignore[no-untyped-def]
        tmp_path_factory: pytest.TempPathFactory, encoder, make_small_corpus) -> tuple[Path, Path]:
    """Three categories of the bundled corpus and their index, built once; tests work on copies."""
    root = tmp_path_factory.mktemp("faults")
    corpus = make_small_corpus(root / "corpus")
    build_index(corpus, root / "index", encoder, "usem3")
    return corpus, root / "index"


def _copy(small_build: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(small_build[0], corpus)
    shutil.copytree(small_build[1], index)
    return corpus, index


def _env(tmp_path: Path, models_dir: Path, corpus: Path, index: Path, **extra: str) -> dict[str, str]:
    return {"QA_CORPUS_DIR": str(corpus), "QA_INDEX_DIR": str(index), "QA_MODELS_DIR": str(models_dir),
            "QA_DATABASE_URL": f"sqlite:///{tmp_path / 'qa.sqlite3'}", "QA_UI": "false", **extra}


def _spawned(pid: int) -> list[int]:
    """The process's multiprocessing children (not its resource tracker)."""
    children = [int(c) for t in Path(f"/proc/{pid}/task").iterdir() for c in (t / "children").read_text().split()]
    return [c for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's exit is reaped by whoever adopted it)."""
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def _outliving(pids: list[int], seconds: float) -> list[int]:
    """Those of ``pids`` still running after waiting up to ``seconds`` for them to go."""
    deadline = time.monotonic() + seconds
    while any(_running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return [p for p in pids if _running(p)]


def test_kill_9_during_a_build_leaves_the_previous_index_serving(
        small_build: tuple[Path, Path], models_dir: Path, tmp_path: Path) -> None:
    small_corpus, index = _copy(small_build, tmp_path)
    shutil.rmtree(index / "cache")  # a cold build: thousands of texts to embed, time to kill it
    first = current_build(index)
    server, base = start_server(_env(tmp_path, models_dir, small_corpus, index), tmp_path / "serve.log")
    env = {**os.environ, "QA_MODELS_DIR": str(models_dir)}
    try:
        before = httpx.get(base + "/v1/search", params={"q": "租房提取公积金"}).json()["hits"][0]["id"]
        # Change every answer, and kill the build while it embeds.
        for path in (small_corpus / "entries").glob("*.jsonl"):
            records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
            for record in records:
                record["answer"] += "（内容已更新）"
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        build = subprocess.Popen([sys.executable, "-m", "qa", "build", "--corpus", str(small_corpus),
                                  "--index", str(index)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert build.stdout is not None
        seen = b""
        while b"embedding" not in seen and build.poll() is None:
            seen += build.stdout.read1(256)
        time.sleep(2.0)  # well into embedding
        assert build.poll() is None, "the build finished before it could be killed"
        helpers = _spawned(build.pid)
        assert len(helpers) == 1  # the build's helper process
        build.send_signal(signal.SIGKILL)
        build.wait()
        assert not _outliving(helpers, 10), "the helper outlived its build"

        assert current_build(index) == first
        assert load_index(index, "usem3").folder == first
        after = httpx.get(base + "/v1/search", params={"q": "租房提取公积金"}).json()["hits"][0]["id"]
        assert after == before
    finally:
        server.terminate()
        server.wait(timeout=20)
    rebuilt = subprocess.run([sys.executable, "-m", "qa", "build", "--corpus", str(small_corpus),
                              "--index", str(index)], env=env, capture_output=True, text=True, timeout=600)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert current_build(index) != first
    assert "（内容已更新）" in load_index(index, "usem3").entries[0]["answer"]
    assert not [p for p in (index / "builds").iterdir() if p.name.endswith(".partial")]  # the dead one is gone


def test_feedback_and_questions_survive_kill_9_of_the_server(
        small_build: tuple[Path, Path], models_dir: Path, tmp_path: Path) -> None:
    small_corpus, index = small_build
    server, base = start_server(_env(tmp_path, models_dir, small_corpus, index), tmp_path / "serve.log")
    try:
        asked = httpx.post(base + "/v1/ask", json={"question": "火星上能交社保吗"}).json()
        assert asked["answered"] is False
        stored = httpx.post(base + "/v1/feedback", json={"query": "租房提取公积金", "entry_id": "gjj-0001",
                                                         "helpful": False})
        assert stored.status_code == 201
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
    store = Store(f"sqlite:///{tmp_path / 'qa.sqlite3'}")
    assert [r["query"] for r in store.unanswered_rows(None, None)] == ["火星上能交社保吗"]
    assert [(r["entry_id"], r["helpful"]) for r in store.feedback_rows(None, None)] == [("gjj-0001", False)]
    # The server's log: one JSON object per line; each request's line has its id and a hashed client.
    lines = [json.loads(line) for line in (tmp_path / "serve.log").read_text().splitlines() if line.startswith("{")]
    requests = [line for line in lines if line["logger"] == "qa.access" and line["path"].startswith("/v1/")]
    assert [r["path"] for r in requests] == ["/v1/ask", "/v1/feedback"]
    assert all(len(r["request_id"]) == 32 and len(r["client"]) == 16 for r in requests)
    assert "127.0.0.1" not in json.dumps(requests)


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "other model"])
def test_a_damaged_index_stops_qa_serve_with_the_reason(
        small_build: tuple[Path, Path], models_dir: Path, tmp_path: Path, damage: str) -> None:
    small_corpus, index = _copy(small_build, tmp_path)
    folder = current_build(index)
    assert folder is not None
    extra = {}
    if damage == "flip a byte":  # an answer changed on disk: the checksum catches what parsing would not
        path = folder / "entries.jsonl"
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("公积金", "公基金", 1), encoding="utf-8")
    elif damage == "truncate":
        path = folder / "answers.npy"
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        extra["QA_MODEL"] = "paraphrase-multilingual-MiniLM-L12-v2"
    env = {**os.environ, **_env(tmp_path, models_dir, small_corpus, index, **extra)}
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "qa", "serve"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2 and "cannot serve" in result.stderr, result.stderr
    expected = {"flip a byte": "entries.jsonl changed since the build", "truncate": "answers.npy",
                "other model": "built with model 'usem3'"}[damage]
    assert expected in result.stderr and ("qa build" in result.stderr or "QA_MODEL" in result.stderr)
    assert time.monotonic() - started < 60


def test_a_damaged_index_is_not_ready_with_the_reason(
        small_build: tuple[Path, Path], models_dir: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from qa.api.app import create_app

    small_corpus, index = _copy(small_build, tmp_path)
    folder = current_build(index)
    assert folder is not None
    vectors = folder / "dense.faiss"
    data = bytearray(vectors.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of one vector: still a valid file, wrong answers
    vectors.write_bytes(bytes(data))
    settings = Settings(corpus_dir=small_corpus, index_dir=index, models_dir=models_dir, ui=False,
                        database_url=f"sqlite:///{tmp_path / 'qa.sqlite3'}")
    with TestClient(create_app(settings)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "dense.faiss changed since the build" in ready.json()["reason"]
        refused = client.get("/v1/search", params={"q": "公积金"})
        assert refused.status_code == 503 and refused.json()["error"] == "not_ready"


def test_soak_at_concurrency_64_has_no_errors_and_steady_memory(
        built_index: Path, settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The 20-second version of `qa soak` after 10 seconds of warm-up (the README has the 5-minute figures)."""
    for name, value in (("QA_CORPUS_DIR", settings.corpus_dir), ("QA_INDEX_DIR", settings.index_dir),
                        ("QA_MODELS_DIR", settings.models_dir)):
        monkeypatch.setenv(name, str(value))
    result = soak(seconds=20, concurrency=64, work_dir=tmp_path, warmup=10)
    assert result.requests > 200
    assert result.server_errors == 0 and result.transport_errors == 0, result.transport_error_samples
    assert set(result.statuses) <= {"200", "201", "422"}
    assert result.rss_growth is not None and result.rss_growth < 0.10, result.rss_mb
    assert result.latency_ms["p99"] > 0


def test_serve_with_two_workers_answers_and_stops_cleanly(
        small_build: tuple[Path, Path], models_dir: Path, tmp_path: Path) -> None:
    from qa.soak import rss_mb

    small_corpus, index = small_build
    server, base = start_server(_env(tmp_path, models_dir, small_corpus, index, QA_WORKERS="2"),
                                tmp_path / "serve.log")
    try:
        assert len(_spawned(server.pid)) == 2  # (the other child is multiprocessing's resource tracker)
        answers = {httpx.get(base + "/v1/search", params={"q": "租房提取公积金"}).json()["hits"][0]["id"]
                   for _ in range(6)}
        assert len(answers) == 1  # every worker serves the same build
        assert rss_mb(server.pid) > 2 * 300  # both workers hold the model and index
    finally:
        server.terminate()
        assert server.wait(timeout=30) == 0


def test_workers_stop_when_their_parent_is_killed(
        small_build: tuple[Path, Path], models_dir: Path, tmp_path: Path) -> None:
    """kill -9 of `qa serve --workers 2` must not leave its workers serving unsupervised on the port."""
    small_corpus, index = small_build
    server, base = start_server(_env(tmp_path, models_dir, small_corpus, index, QA_WORKERS="2"),
                                tmp_path / "serve.log")
    workers = _spawned(server.pid)
    assert len(workers) == 2
    assert httpx.get(base + "/readyz").status_code == 200
    server.send_signal(signal.SIGKILL)
    server.wait()
    assert not _outliving(workers, 15), "a worker outlived `qa serve`"
    with pytest.raises(httpx.TransportError):
        httpx.get(base + "/readyz", timeout=2)
