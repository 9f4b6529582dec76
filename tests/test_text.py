"""Normalisation, script detection and lexical tokens."""

from __future__ import annotations

from qa.text import Tokenizer, Vocabulary, has_content, is_traditional, normalise, to_traditional
from tests.conftest import BUNDLED_CORPUS


def test_normalise_folds_width_space_case_and_script() -> None:
    assert normalise("  ＡＰＰ　怎麼\t下載  ") == "app 怎么 下载"
    assert normalise("公積金１２３") == "公积金123"
    assert normalise("醫保\x00報銷") == "医保 报销"
    assert normalise(normalise("住房公積金提取")) == normalise("住房公積金提取")


def test_script_detection_and_conversion() -> None:
    assert is_traditional("住房公積金怎麼提取")
    assert not is_traditional("住房公积金怎么提取")
    assert not is_traditional("12345")
    assert to_traditional("怎么提取住房公积金") == "怎麼提取住房公積金"


def test_content_check() -> None:
    assert has_content("社保")
    assert not has_content("？？！ ……")


def test_synonyms_map_everyday_words_to_policy_terms() -> None:
    tokenizer = Tokenizer(Vocabulary.load(BUNDLED_CORPUS / "dict"))
    assert "社会保险" in tokenizer.words(normalise("社保断缴了怎么办"))
    assert "住房公积金" in tokenizer.words(normalise("公积金怎么取"))
    assert tokenizer.words(normalise("社保怎么交")) == tokenizer.words(normalise("社会保险怎么交"))
    tokens = tokenizer.tokens(normalise("异地就医"))
    assert "#异地" in tokens and "#医" in tokens
