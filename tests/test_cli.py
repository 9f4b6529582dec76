"""The ``qa`` command as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qa.cli import main
from qa.config import Settings


def _env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "QA_CORPUS_DIR": str(settings.corpus_dir),
        "QA_INDEX_DIR": str(settings.index_dir),
        "QA_MODELS_DIR": str(settings.models_dir),
    }


def _qa(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qa", *args], env=_env(settings), capture_output=True, text=True, timeout=300
    )


def test_ask_json_prints_the_search_body_and_what_was_understood(settings: Settings, built_index: Path,
                                                                 client: TestClient) -> None:
    run = _qa(settings, "ask", "怎么提取住房公积金", "--json", "--k", "3")
    assert run.returncode == 0, run.stderr
    body = json.loads(run.stdout)
    api = client.get("/v1/search", params={"q": "怎么提取住房公积金", "k": 3}).json()
    assert set(body) == set(api) | {"corrected", "clarify"}
    assert body["corrected"] is None
    assert body["answered"] is True
    assert [h["id"] for h in body["hits"]] == [h["id"] for h in api["hits"]]
    assert body["hits"][0]["sources"][0]["title"] and body["hits"][0]["sources"][0]["url"]

    weather = json.loads(_qa(settings, "ask", "今天天气怎么样", "--json").stdout)
    assert weather["answered"] is False
    typo = json.loads(_qa(settings, "ask", "公积金带款利律现在多少", "--json").stdout)
    assert typo["corrected"] == "公积金贷款利率现在多少"


def test_rebuilding_an_unchanged_corpus_reuses_the_index(settings: Settings, built_index: Path) -> None:
    run = _qa(settings, "build")
    assert run.returncode == 0, run.stderr
    assert "index up to date" in run.stdout and str(built_index) in run.stdout


def test_bad_question_and_missing_index_exit_with_a_message(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QA_MODELS_DIR", str(settings.models_dir))
    assert main(["ask", "   ", "--index", str(tmp_path / "none")]) == 2
    assert "问题不能为空" in capsys.readouterr().err
    assert main(["ask", "社保怎么交", "--index", str(tmp_path / "none")]) == 2
    assert "run `qa build`" in capsys.readouterr().err


def test_corpus_validate_and_stats(settings: Settings, small_corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["corpus", "validate", str(small_corpus), "--fast"]) == 0
    assert "OK" in capsys.readouterr().out
    assert main(["corpus", "stats", str(small_corpus), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["published"] > 0 and stats["policies"] > 0
    with (small_corpus / "entries" / "gjj.jsonl").open("a", encoding="utf-8") as f:
        f.write('{"id": "gjj-0001"}\n')
    assert main(["corpus", "validate", str(small_corpus), "--fast"]) == 1
    assert "duplicate id 'gjj-0001'" in capsys.readouterr().err
