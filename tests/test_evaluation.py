"""Editors' evaluation: metric maths on hand-computed examples, the gold-set checks, the gate."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from qa.evaluation.baseline import compare
from qa.evaluation.goldset import GoldQuery, GoldSetInvalid, check_against_corpus, load_gold
from qa.evaluation.metrics import hit_at, ndcg_at, percentile, recall_at, reciprocal_rank
from qa.evaluation.runner import Outcome, ranking_metrics, rejection_metrics


def test_ranking_metrics_by_hand() -> None:
    ranked = ["a", "b", "c", "d"]
    assert hit_at(ranked, {"c"}, 1) == 0.0 and hit_at(ranked, {"c"}, 3) == 1.0
    assert recall_at(ranked, {"b", "x"}, 3) == 0.5
    assert reciprocal_rank(ranked, {"c"}) == pytest.approx(1 / 3)
    assert reciprocal_rank(ranked, {"z"}) == 0.0
    # relevant at ranks 2 and 4: DCG = 1/log2(3) + 1/log2(5); ideal = 1 + 1/log2(3)
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg_at(ranked, {"b", "d"}) == pytest.approx(expected)
    assert percentile([1, 2, 3, 4], 50) == 2.5 and percentile([5], 95) == 5


def _outcome(ids: tuple[str, ...], ranked: list[str], top: float) -> Outcome:
    return Outcome(GoldQuery("q", ids, "colloquial" if ids else "chitchat", "t:1"), ranked,
                   [top] + [top / 2] * (len(ranked) - 1))


def test_rejection_metrics_by_hand() -> None:
    outcomes = [
        _outcome(("a",), ["a", "b"], 0.9),  # answered, right
        _outcome(("a",), ["b", "a"], 0.8),  # answered, wrong  -> false answer
        _outcome(("c",), ["c", "b"], 0.5),  # in scope but rejected
        _outcome((), ["a"], 0.4),  # out of scope, rejected
        _outcome((), ["b"], 0.7),  # out of scope, answered
    ]
    m = rejection_metrics(outcomes, 0.6)
    assert m["coverage"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["false_answer_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["oos_rejected"] == 0.5
    assert m["rejection_precision"] == 0.5  # rejected: one out-of-scope, one in-scope
    r = ranking_metrics(outcomes)
    assert r["hit@1"] == pytest.approx(2 / 3, abs=1e-4) and r["recall@3"] == 1.0
    assert r["mrr@10"] == pytest.approx((1 + 0.5 + 1) / 3, abs=1e-4)


def test_gold_queries_that_copy_an_alternate_fail_the_set() -> None:
    entries = [{"id": "e1", "question": "租房可以提取住房公积金吗？",
                "alternates": ["租房能取公积金吗", "没买房公积金能拿出来交房租不"]}]
    copied = GoldQuery("租房能取公积金吗？", ("e1",), "colloquial", "g:1")
    near = GoldQuery("没买房公积金能拿出来交房租吗", ("e1",), "colloquial", "g:2")
    own = GoldQuery("我在青岛租房子住 公积金每年能取几回", ("e1",), "long", "g:3")
    unknown = GoldQuery("公积金贷款额度", ("e9",), "keywords", "g:4")
    problems = check_against_corpus([copied, near, own, unknown], entries)
    assert any(p.startswith("g:1:") and "nearly copies" in p for p in problems)
    assert any(p.startswith("g:2:") for p in problems)
    assert not any(p.startswith("g:3:") for p in problems)
    assert any(p.startswith("g:4:") and "unknown entry 'e9'" in p for p in problems)


def test_gold_file_format_problems_are_listed(tmp_path: Path) -> None:
    path = tmp_path / "gold.jsonl"
    path.write_text('{"query": "社保", "ids": ["x"], "style": "shouting"}\n{"query": ""}\nnot json\n', encoding="utf-8")
    with pytest.raises(GoldSetInvalid) as info:
        load_gold(path)
    message = str(info.value)
    assert "gold.jsonl:1: style" in message and "gold.jsonl:2: query" in message
    assert "gold.jsonl:3: invalid JSON" in message


def test_baseline_comparison_names_what_regressed() -> None:
    base = {"summary": {"hit@1": 0.90, "recall@5": 0.97, "oos_rejected": 0.95, "false_answer_rate": 0.03}}
    same = compare({"hit@1": 0.895, "recall@5": 0.97, "oos_rejected": 0.95, "false_answer_rate": 0.03}, base, 0.01)
    assert same["passed"]
    worse = compare({"hit@1": 0.87, "recall@5": 0.97, "oos_rejected": 0.90, "false_answer_rate": 0.03}, base, 0.01)
    assert not worse["passed"]
    assert any("hit@1 fell from 0.9000 to 0.8700" in r for r in worse["regressed"])
    assert any("oos_rejected" in r for r in worse["regressed"])


def test_qa_eval_writes_three_reports_and_gates_on_regression(
    settings, built_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from qa.cli import main

    for key, value in (("QA_CORPUS_DIR", settings.corpus_dir), ("QA_INDEX_DIR", settings.index_dir),
                       ("QA_MODELS_DIR", settings.models_dir)):
        monkeypatch.setenv(key, str(value))
    gold = tmp_path / "gold.jsonl"
    gold.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"query": "宝宝刚生下来医保咋办理", "ids": ["yibao-0001"], "style": "colloquial"},
        {"query": "離婚要等多少天才能拿證", "ids": ["minzheng-0005"], "style": "traditional"},
        {"query": "今天天气怎么样", "ids": [], "style": "off_topic"},
    ]) + "\n", encoding="utf-8")
    baseline = tmp_path / "baseline.json"
    reports = tmp_path / "reports"
    args = ["eval", "--set", str(gold), "--baseline", str(baseline), "--reports", str(reports), "--ablate"]
    assert main([*args, "--save-baseline"]) == 0
    assert json.loads(baseline.read_text(encoding="utf-8"))["summary"]["queries"] == 3
    folders = list(reports.iterdir())
    assert {p.name for p in folders[0].iterdir()} == {"report.json", "report.md", "report.html"}
    html = (folders[0] / "report.html").read_text(encoding="utf-8")
    assert html.count("<svg") >= 3 and "问答评测报告" in html

    assert main(args) == 0
    assert "no regression against the baseline" in capsys.readouterr().out

    saved = json.loads(baseline.read_text(encoding="utf-8"))
    saved["summary"]["hit@1"] = 1.5  # a baseline no run can reach
    baseline.write_text(json.dumps(saved), encoding="utf-8")
    assert main(args) == 3
    assert "REGRESSION: hit@1 fell" in capsys.readouterr().err
