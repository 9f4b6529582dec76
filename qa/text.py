"""Chinese text handling: normalisation, script detection and conversion, lexical tokens.

Queries and corpus phrasings go through the same ``normalise`` and ``lexical_tokens``
so that Traditional/Simplified, full/half width and abbreviations meet in one form.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from qa import pinyin

log = logging.getLogger(__name__)

_SPACES = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORDLIKE = re.compile(r"[0-9a-z\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@lru_cache(maxsize=8)
def _opencc(config: str) -> Any:
    import opencc

    return opencc.OpenCC(config)


# Scripts a question can be written in; a reply comes back in the same one.
SIMPLIFIED, TRADITIONAL, TAIWAN, HONG_KONG = "simplified", "traditional", "taiwan", "hongkong"
_REPLY = {TRADITIONAL: "s2t", TAIWAN: "s2tw", HONG_KONG: "s2hk"}


def _traditional_majority(han: str) -> bool:
    """True when converting to Simplified changes more characters than converting to Traditional."""
    simp = _opencc("t2s").convert(han)
    if simp == han:  # plain Simplified, most texts: no counting, no second conversion
        return False
    changed_by_t2s = sum(a != b for a, b in zip(han, simp, strict=False))
    trad = _opencc("s2t").convert(han)
    changed_by_s2t = sum(a != b for a, b in zip(han, trad, strict=False))
    return changed_by_t2s > changed_by_s2t


def to_simplified(text: str) -> str:
    """Traditional Chinese (plain, Taiwan or Hong Kong forms) to Simplified.

    Text written in Traditional goes through OpenCC's Hong Kong variants (衞→卫, 綫→线) and then
    its Taiwan table (character variants, 著/着 by phrase); Simplified text only has stray
    Traditional characters converted, because the Taiwan table would also turn a Simplified 显著
    into 显着. Regional *words* (資訊, 軟體, 登入) are synonyms in ``corpus/dict/synonyms.txt``,
    not OpenCC's phrase tables, which rewrite mainland words too (文件→文档, 程序→进程).
    """
    han = "".join(_CJK.findall(text))
    return _from_traditional(text) if han and _traditional_majority(han) else str(_opencc("t2s").convert(text))


def _from_traditional(text: str) -> str:
    """Traditional text of any region to Simplified: Hong Kong variants, then Taiwan's table."""
    return str(_opencc("tw2s").convert(_opencc("hk2t").convert(text)))


def script_of(text: str) -> str:
    """``simplified``, ``traditional``, ``taiwan`` or ``hongkong``: the script a question is written in.

    Traditional text is Taiwan or Hong Kong when OpenCC's Taiwan or Hong Kong conversion of its
    Simplified form reproduces more of its characters than plain Traditional does (裡 and 著 are
    Taiwan's, 裏 and 綫 Hong Kong's); most text reads the same in all three and stays plain. 台/臺
    is left out: both regions write 台 every day.
    """
    han = "".join(_CJK.findall(text))
    if not han or not _traditional_majority(han):
        return SIMPLIFIED
    simplified = _from_traditional(han)
    agree = {}
    for script in (TRADITIONAL, TAIWAN, HONG_KONG):
        written = _opencc(_REPLY[script]).convert(simplified)
        agree[script] = sum(a == b and a not in "台臺" for a, b in zip(han, written, strict=False))
    best = max(agree.values())
    return TRADITIONAL if agree[TRADITIONAL] == best else max(agree, key=agree.__getitem__)


def is_traditional(text: str) -> bool:
    """True when the text is written in Traditional characters (any region's forms)."""
    han = "".join(_CJK.findall(text))
    return bool(han) and _traditional_majority(han)


def to_traditional(text: str) -> str:
    """Simplified to Traditional Chinese, for replying in a Traditional user's script."""
    return str(_opencc("s2t").convert(text))


def in_script(text: str, script: str) -> str:
    """Simplified ``text`` written in ``script`` (one of ``script_of``'s answers)."""
    config = _REPLY.get(script)
    return str(_opencc(config).convert(text)) if config else text


SHORT_TEXT = 64  # a question or phrasing, not an answer: worth remembering (65,536 of them: ~10 MB, 30 MB at most)


def normalise(text: str) -> str:
    """One canonical form for matching: NFKC (full→half width), no control characters,
    single spaces, Simplified script, lower-case Latin.

    Short texts are remembered: a build meets each phrasing twice (the duplicate check and the
    index) and a server the same popular questions all day."""
    return _normalise_short(text) if len(text) <= SHORT_TEXT else _normalise(text)


@lru_cache(maxsize=1 << 16)
def _normalise_short(text: str) -> str:
    return _normalise(text)


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    return to_simplified(text).lower()


_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_POWERS = {"十": 10, "百": 100, "千": 1000}
# A Chinese number followed by a unit where residents write digits just as often (十五年 / 15年).
_NUMBER_WITH_UNIT = re.compile(
    "([零〇一二两三四五六七八九十百千万]+)(?=个工作日|工作日|个月|周岁|岁|年|月|天|日|小时|分钟|周|次(?!性)|元|倍|人|套|平方米|公里|项|级)"
)


def _chinese_number(text: str) -> int | None:
    """The value of a Chinese numeral below 100,000,000 (十五 → 15, 一百零八 → 108, 三万 → 30000), or None."""
    total, section, digit = 0, 0, None
    for ch in text:
        if ch in "零〇" and (section or total):  # 一百零八: a zero only holds a place
            continue
        if ch in _DIGITS:
            if digit is not None:  # two digits in a row (一二) is not a number
                return None
            digit = _DIGITS[ch]
        elif ch in _POWERS:
            section += (1 if digit is None else digit) * _POWERS[ch]
            digit = None
        elif ch == "万":
            total += (section + (digit or 0)) * 10_000
            section, digit = 0, None
        else:
            return None
    return total + section + (digit or 0)


def arabic_numerals(text: str) -> str:
    """Chinese numbers before a unit written in digits (缴满十五年 → 缴满15年, 六十周岁 → 60周岁).

    Only the lexical channel uses it, on queries and phrasings alike: a bare 一 or 十 elsewhere
    (一次性, 十分) keeps its characters.
    """
    def digits(match: re.Match[str]) -> str:
        number = match.group(1)
        tens_of_thousands = number.endswith("万") and len(number) > 1  # 两万元 → 2万元, as figures are written
        value = _chinese_number(number[:-1] if tens_of_thousands else number)
        if value is None or number in ("零", "〇", "万"):
            return number
        return f"{value}万" if tens_of_thousands else str(value)

    return _NUMBER_WITH_UNIT.sub(digits, text)


def has_content(text: str) -> bool:
    """True when the text has at least one letter, digit or Chinese character."""
    return bool(_WORDLIKE.search(normalise(text)))


# Control characters no keyboard types (tab, newline and carriage return are fine): a sign of a
# broken client or a probe, refused rather than silently searched.
CONTROL = re.compile(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def question_problem(text: str, max_chars: int) -> str | None:
    """Why a question cannot be searched as typed — ``empty``, ``too_long``, ``nul``, ``control``
    or ``no_content`` — or None. One rule for every front end; each words it for its readers."""
    if not text.strip():
        return "empty"
    if len(text) > max_chars:
        return "too_long"
    if "\x00" in text:
        return "nul"
    if CONTROL.search(text):
        return "control"
    if not has_content(text):
        return "no_content"
    return None


def _dictionary_form(term: str) -> str:
    """A dictionary term as the tokenizer meets it: normalised, numbers in digits (九年义务教育 → 9年义务教育)."""
    return arabic_numerals(normalise(term))


@dataclass
class Vocabulary:
    """The jieba user dictionary and the synonym groups of a corpus."""

    user_words: list[str] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)  # variant -> canonical term
    contrasts: list[set[str]] = field(default_factory=list)  # words filling one slot differently (qa.followup)

    @classmethod
    def load(cls, dict_dir: Path) -> Vocabulary:
        """Read ``userdict.txt`` (one term per line, optional frequency and POS, jieba's format),
        ``synonyms.txt`` (one group per line, canonical term first, separated by spaces) and
        ``contrasts.txt`` (one group per line)."""
        vocab = cls()
        user = dict_dir / "userdict.txt"
        if user.exists():
            for line in user.read_text(encoding="utf-8").splitlines():
                line = line.split("#", 1)[0].strip()
                if line:
                    vocab.user_words.append(_dictionary_form(line.split()[0]))
        syn = dict_dir / "synonyms.txt"
        if syn.exists():
            for line in syn.read_text(encoding="utf-8").splitlines():
                terms = [_dictionary_form(t) for t in line.split("#", 1)[0].split()]
                terms = [t for t in terms if t]
                for variant in terms[1:]:
                    vocab.synonyms[variant] = terms[0]
        contrasts = dict_dir / "contrasts.txt"
        if contrasts.exists():
            for line in contrasts.read_text(encoding="utf-8").splitlines():
                group = {_dictionary_form(t) for t in line.split("#", 1)[0].split()} - {""}
                if len(group) >= 2:
                    vocab.contrasts.append(group)
        return vocab


class Tokenizer:
    """Lexical tokens for BM25: jieba words (synonyms mapped to their canonical term)
    plus Chinese character bigrams and unigrams of the canonicalised text.

    Character n-grams keep the lexical channel robust when jieba segments a query
    differently from the entry; words carry the user dictionary and synonyms.
    """

    def __init__(self, vocabulary: Vocabulary) -> None:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        self._jieba = jieba.Tokenizer()
        self._lock = threading.Lock()
        self.vocabulary = vocabulary
        self.synonyms = vocabulary.synonyms
        words = set(vocabulary.user_words) | set(vocabulary.synonyms) | set(vocabulary.synonyms.values())
        self._words = sorted(w for w in words if w)
        self.terms = frozenset(self._words)  # the policy terms of the dictionaries
        self._ready = False

    def _init(self) -> None:
        with self._lock:
            if not self._ready:
                self._jieba.initialize()
                pinyin.syllables()
                for word in self._words:
                    self._jieba.add_word(word, freq=max(self._jieba.suggest_freq(word), 2000))
                self._ready = True

    def _cut(self, normalised: str) -> list[str]:
        """jieba's pieces of the text as written, punctuation and spaces included."""
        if not self._ready:
            self._init()
        return self._jieba.lcut(normalised, HMM=True)

    def _canonical(self, pieces: list[str]) -> list[str]:
        out = []
        for word in pieces:
            word = word.strip()
            if word and _WORDLIKE.search(word):
                out.append(self.synonyms.get(word, word))
        return out

    def words(self, normalised: str) -> list[str]:
        """jieba words of already-normalised text, synonyms replaced by their canonical term."""
        return self._canonical(self._cut(normalised))

    def pieces(self, normalised: str) -> list[str]:
        """Dictionary words of already-normalised text as written (no synonyms, no guessed new words):
        a typo stays apart as single characters (公基金 → 公/基金)."""
        if not self._ready:
            self._init()
        return self._jieba.lcut(normalised, HMM=False)

    def knows(self, word: str) -> bool:
        """True when jieba's dictionary (with the corpus's user words) has the word."""
        if not self._ready:
            self._init()
        return self._jieba.FREQ.get(word, 0) > 0

    def tokens(self, normalised: str) -> list[str]:
        """All lexical tokens: words, ``#``-prefixed character bigrams and unigrams, and
        ``@``-prefixed pinyin syllable bigrams and unigrams.

        A query typed in pinyin has only the pinyin tokens (and its Latin words).
        """
        typed_pinyin = pinyin.of_pinyin_query(normalised)
        if typed_pinyin is not None:
            return self.words(normalised) + pinyin.grams(typed_pinyin)
        normalised = arabic_numerals(normalised)
        pieces = self._cut(normalised)
        words = self._canonical(pieces)
        grams: list[str] = []
        for run in _CJK.findall("".join(words)):
            grams.extend("#" + run[i : i + 2] for i in range(len(run) - 1))
            grams.extend("#" + ch for ch in run)
        # Syllables of the text as typed (before synonyms): homophone typos still share them.
        return words + grams + pinyin.grams(pinyin.of_words(pieces))

    def is_pinyin(self, normalised: str) -> bool:
        """True when the query is typed in pinyin rather than characters."""
        return pinyin.of_pinyin_query(normalised) is not None
