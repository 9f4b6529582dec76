"""Pinyin for the lexical channel: syllables of Chinese text, and of queries typed in pinyin.

Both sides meet as toneless syllables, so ``gongjijin tiqu`` and ``gong1 ji1 jin1`` find
公积金提取, and a homophone typo (报消 for 报销) still shares its syllables with the entry.
"""

from __future__ import annotations

import re
from functools import lru_cache

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_LATIN_WORD = re.compile(r"[a-zü]+[1-5]?")
_MAX_SYLLABLE = 6  # "zhuang", "shuang"


@lru_cache(maxsize=1)
def syllables() -> frozenset[str]:
    """Every toneless Mandarin syllable pypinyin knows (each character's first reading, as
    ``lazy_pinyin`` gives it; converting the ~1,400 distinct readings, not 42,000 characters)."""
    from pypinyin.constants import PINYIN_DICT
    from pypinyin.style._tone_convert import to_normal

    readings = {value.split(",")[0] for value in PINYIN_DICT.values()}
    found = (to_normal(r, v_to_u=False) for r in readings)
    return frozenset(s for s in found if s.isalpha() and s.isascii())


def of_chinese(text: str) -> list[str]:
    """Toneless syllables of the Chinese characters in ``text``, phrase-aware (银行 → yin hang)."""
    from pypinyin import Style, lazy_pinyin

    out: list[str] = []
    for run in _CJK_RUN.findall(text):
        out.extend(lazy_pinyin(run, style=Style.NORMAL, v_to_u=False, errors="ignore"))
    return out


def of_words(words: list[str]) -> list[str]:
    """``of_chinese`` of a text already cut into words, one word at a time (each word's syllables
    computed once per process: a build reads the same words thousands of times, and pypinyin's
    phrase lookup was a third of its tokenising). A polyphone reads as in its word (没过户: mei)."""
    return [s for word in words for s in _of_word(word)]


@lru_cache(maxsize=200_000)
def _of_word(word: str) -> tuple[str, ...]:
    return tuple(of_chinese(word))


def split_syllables(word: str) -> list[str] | None:
    """Split a run of letters into pinyin syllables (fewest syllables wins); None if it is not pinyin."""
    known = syllables()
    best: list[list[str] | None] = [None] * (len(word) + 1)
    best[0] = []
    for end in range(1, len(word) + 1):
        for start in range(max(0, end - _MAX_SYLLABLE), end):
            head = best[start]
            if head is not None and word[start:end] in known:
                candidate = [*head, word[start:end]]
                current = best[end]
                if current is None or len(candidate) < len(current):
                    best[end] = candidate
    return best[len(word)]


def of_pinyin_query(text: str) -> list[str] | None:
    """Syllables of a query typed in pinyin (tone numbers allowed), or None when it is not one.

    A query is pinyin when it has no Chinese characters and at least 80% of its letters
    split into syllables (a stray English word or number does not disqualify it).
    """
    if _CJK_RUN.search(text):
        return None
    words = [w.rstrip("12345") for w in _LATIN_WORD.findall(text.lower().replace("v", "ü"))]
    letters = sum(len(w) for w in words)
    if letters < 4:
        return None
    out: list[str] = []
    matched = 0
    for word in words:
        parts = split_syllables(word.replace("ü", "v"))
        if parts:
            out.extend(parts)
            matched += len(word)
    if matched < 0.8 * letters or len(out) < 2:
        return None
    return out


def grams(syllable_list: list[str]) -> list[str]:
    """Lexical tokens from syllables: ``@`` unigrams and ``@a_b`` bigrams."""
    return [f"@{a}_{b}" for a, b in zip(syllable_list, syllable_list[1:], strict=False)] + [
        f"@{s}" for s in syllable_list
    ]
