"""Corpus loading and validation: every problem reported with file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.corpus import corpus_stats, load_corpus
from qa.errors import CorpusInvalid
from tests.conftest import BUNDLED_CORPUS


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _write(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def _problems(root: Path) -> list[str]:
    with pytest.raises(CorpusInvalid) as info:
        load_corpus(root)
    return info.value.problems


def test_bundled_corpus_is_valid_and_covers_the_topics() -> None:
    corpus = load_corpus(BUNDLED_CORPUS)
    stats = corpus_stats(corpus)
    assert stats["published"] >= 100
    assert sum(1 for n in stats["per_category"].values() if n > 0) >= 8
    assert stats["alternates_per_entry"]["min"] >= 3
    assert all(e.policy_ids for e in corpus.published)


def test_each_broken_field_is_reported_with_file_line_and_field(small_corpus: Path) -> None:
    path = small_corpus / "entries" / "gjj.jsonl"
    records = _lines(path)
    records[1]["id"] = records[0]["id"]  # duplicate id, line 2
    records[2]["answer"] = "   "  # empty answer, line 3
    records[3]["policy_ids"] = ["no-such-policy"]  # unknown policy, line 4
    records[4]["category"] = "不存在的分类"  # unknown category, line 5
    records[5]["updated"] = "2024-13-45"  # bad date, line 6
    _write(path, records)
    problems = _problems(small_corpus)
    joined = "\n".join(problems)
    assert f"entries/gjj.jsonl:2: id: duplicate id {records[0]['id']!r}" in joined
    assert "entries/gjj.jsonl:3: answer: missing or empty" in joined
    assert "entries/gjj.jsonl:4: policy_ids: unknown policy id 'no-such-policy'" in joined
    assert "entries/gjj.jsonl:5: category: unknown category '不存在的分类'" in joined
    assert "entries/gjj.jsonl:6: updated: '2024-13-45' is not a date" in joined
    assert len(problems) == 5


def test_invalid_json_and_bad_policy_dates_are_reported(small_corpus: Path) -> None:
    with (small_corpus / "entries" / "yibao.jsonl").open("a", encoding="utf-8") as f:
        f.write('{"id": "yibao-9999", "question": \n')
    policies = _lines(small_corpus / "policies.jsonl")
    policies[0]["published"] = "2019年"
    _write(small_corpus / "policies.jsonl", policies)
    joined = "\n".join(_problems(small_corpus))
    assert "entries/yibao.jsonl:" in joined and "invalid JSON" in joined
    assert "policies.jsonl:1: published: '2019年' is not a date in YYYY-MM-DD form" in joined


def test_two_entries_with_the_same_question_are_refused(small_corpus: Path) -> None:
    path = small_corpus / "entries" / "gjj.jsonl"
    records = _lines(path)
    records[1]["alternates"].append(records[0]["question"])
    _write(path, records)
    joined = "\n".join(_problems(small_corpus))
    assert records[0]["id"] in joined and "compete for the same question" in joined


def test_short_answer_and_too_few_alternates_are_reported(small_corpus: Path) -> None:
    path = small_corpus / "entries" / "xxgk.jsonl"
    records = _lines(path)
    records[0]["answer"] = "可以。"
    records[1]["alternates"] = records[1]["alternates"][:1]
    _write(path, records)
    joined = "\n".join(_problems(small_corpus))
    assert "entries/xxgk.jsonl:1: answer: 3 characters" in joined
    assert "entries/xxgk.jsonl:2: alternates: 1 given" in joined


def test_stats_count_categories_and_audiences(small_corpus: Path) -> None:
    stats = corpus_stats(load_corpus(small_corpus))
    counts = {k: v for k, v in stats["per_category"].items() if v}
    assert set(counts) == {"住房公积金", "医疗保障", "政府信息公开"}
    assert sum(counts.values()) == stats["published"]
    assert stats["per_audience"]["个人"] > 0
    assert stats["answer_chars"]["min"] >= 60 and stats["answer_chars"]["max"] <= 400


def test_near_duplicate_questions_across_entries_are_reported(small_corpus: Path, encoder) -> None:
    from qa.quality import near_duplicates

    path = small_corpus / "entries" / "gjj.jsonl"
    records = _lines(path)
    first, second = records[0], records[1]
    second["alternates"].append("请问" + first["question"])
    _write(path, records)
    corpus = load_corpus(small_corpus)
    found = [d for d in near_duplicates(corpus, encoder) if {d.entry, d.other_entry} == {first["id"], second["id"]}]
    assert found and found[0].cosine >= 0.95
    assert "reword one or merge the entries" in str(found[0])

    (small_corpus / "distinct_pairs.txt").write_text(f"{first['id']} {second['id']}  # reviewed\n", encoding="utf-8")
    corpus = load_corpus(small_corpus)
    assert not [d for d in near_duplicates(corpus, encoder) if {d.entry, d.other_entry} == {first["id"], second["id"]}]


def test_packs_and_policy_lifecycle_links_are_validated(small_corpus: Path) -> None:
    gjj = _lines(small_corpus / "entries" / "gjj.jsonl")[0]
    packs = [
        {"id": "renters", "title": "租房人群政策包", "audience": "租房的职工", "description": "租房提取公积金。",
         "entries": [gjj["id"]]},
        {"id": "broken", "title": "", "audience": "任何人", "entries": ["no-such-entry", gjj["id"], gjj["id"]]},
    ]
    _write(small_corpus / "packs.jsonl", packs)
    policies = _lines(small_corpus / "policies.jsonl")
    policies[0]["links"] = {"解读": "https://www.gov.cn/zhengce/", "宣传": "https://example.org/", "评估": "ftp://x"}
    _write(small_corpus / "policies.jsonl", policies)
    joined = "\n".join(_problems(small_corpus))
    assert "packs.jsonl:2: title: missing or empty" in joined
    assert "packs.jsonl:2: entries: 'no-such-entry' is not a published entry" in joined
    assert "packs.jsonl:2: entries: lists an entry twice" in joined
    assert "packs.jsonl:1:" not in joined
    assert "policies.jsonl:1: links: unknown stage '宣传'" in joined
    assert "policies.jsonl:1: links: 评估: 'ftp://x' must start with https://" in joined


def test_bundled_packs_cover_the_groups_the_city_names() -> None:
    packs = load_corpus(BUNDLED_CORPUS).packs
    titles = {p.title for p in packs}
    assert len(packs) >= 6
    for group in ("高校毕业生", "新市民", "新生儿家庭", "老年人", "小微企业", "个体工商户"):
        assert any(group in t for t in titles), group


def test_case_groups_are_validated(small_corpus: Path) -> None:
    groups = [
        {"id": "gjj-transfer", "ask": "公积金转移怎么办", "cases": [
            {"entry": "gjj-0020", "words": ["转出", "转到外地"]},
            {"entry": "gjj-0021", "words": ["转入", "转到青岛"]}]},
        {"id": "broken", "ask": "公积金怎么转", "cases": [
            {"entry": "gjj-0020", "words": ["转出", "公积金"]}, {"entry": "no-such-entry", "words": ["转出"]},
            {"entry": "gjj-0021", "words": ["入"]}]},
        {"id": "alone", "ask": "公积金转移怎么办", "cases": [{"entry": "gjj-0020", "words": ["转出"]}]},
    ]
    _write(small_corpus / "cases.jsonl", groups)
    joined = "\n".join(_problems(small_corpus))
    assert "cases.jsonl:1:" not in joined
    assert "cases.jsonl:2: cases[1]: word '公积金' is part of the ask '公积金怎么转'" in joined
    assert "cases.jsonl:2: cases[2]: 'no-such-entry' is not a published entry" in joined
    assert "cases.jsonl:2: cases[2]: word '转出' also names the case gjj-0020" in joined
    assert "cases.jsonl:2: cases[3]: word '入' is one character" in joined
    assert "cases.jsonl:3: cases: a case group lists 2–6 cases" in joined


def test_a_case_group_left_with_one_answerable_entry_is_not_offered(small_corpus: Path) -> None:
    from qa.index import case_groups

    _write(small_corpus / "cases.jsonl", [{"id": "gjj-transfer", "ask": "公积金转移怎么办", "cases": [
        {"entry": "gjj-0020", "words": ["转出"]}, {"entry": "gjj-0021", "words": ["转入"]},
        {"entry": "gjj-0068", "words": ["换单位"]}]}])
    corpus = load_corpus(small_corpus)
    both = case_groups(corpus, {"gjj-0020", "gjj-0021"})  # gjj-0068 lapsed: the other two are still asked
    assert [c["entry"] for c in both[0]["cases"]] == ["gjj-0020", "gjj-0021"]
    assert case_groups(corpus, {"gjj-0020"}) == []
