"""Hybrid search as a resident sees it."""

from __future__ import annotations

from qa.search import Searcher


def test_provident_fund_question_is_answered_with_its_policies(searcher: Searcher) -> None:
    result = searcher.search("怎么提取住房公积金", k=5)
    assert result.answered
    top = result.hits[0]
    assert top.category == "住房公积金"
    assert top.sources and top.sources[0].title and top.sources[0].url.startswith("http")
    scores = [h.score for h in result.hits]
    assert scores == sorted(scores, reverse=True) and len(result.hits) == 5


def test_out_of_scope_question_is_not_answered_but_gets_suggestions(searcher: Searcher) -> None:
    for question in ("今天天气怎么样", "帮我写一首关于大海的诗", "asdfghjkl"):
        result = searcher.search(question)
        assert not result.answered, question
        assert result.suggestions == [h.question for h in result.hits[:3]]


def test_traditional_question_finds_the_same_entry_as_simplified(searcher: Searcher) -> None:
    pairs = [
        ("公积金怎么提取", "公積金怎麼提取"),
        ("新生儿怎么参加医保", "新生兒怎麼參加醫保"),
        ("离婚冷静期是多久", "離婚冷靜期是多久"),
        ("政府信息公开申请多久答复", "政府資訊公開申請多久答覆"),
    ]
    for simplified, traditional in pairs:
        a, b = searcher.search(simplified), searcher.search(traditional)
        assert a.hits[0].id == b.hits[0].id, (simplified, traditional)
        assert a.answered == b.answered


def test_everyday_words_reach_policy_entries(searcher: Searcher) -> None:
    cases = {
        "失业金怎么领": "社会保险",
        "新生儿怎么上医保": "医疗保障",
        "离婚冷静期多久": "民政与社会救助",
        "个税专项附加扣除有哪些": "税务",
    }
    for question, category in cases.items():
        result = searcher.search(question)
        assert result.answered and result.hits[0].category == category, (question, result.hits[0].question)


def test_category_filter_keeps_only_those_categories(searcher: Searcher) -> None:
    result = searcher.search("怎么申请补贴", k=10, categories=["就业创业"])
    assert result.hits and all(h.category == "就业创业" for h in result.hits)
