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


@lru_cache(maxsize=4)
def _opencc(config: str) -> Any:
    import opencc

    return opencc.OpenCC(config)


def to_simplified(text: str) -> str:
    """Traditional (plain, Taiwan or Hong Kong forms) to Simplified Chinese."""
    return str(_opencc("t2s").convert(text))


def to_traditional(text: str) -> str:
    """Simplified to Traditional Chinese, for replying in a Traditional user's script."""
    return str(_opencc("s2t").convert(text))


def is_traditional(text: str) -> bool:
    """True when the text is written in Traditional characters.

    A text is Traditional when converting it to Simplified changes more of its
    Chinese characters than converting it to Traditional would.
    """
    han = "".join(_CJK.findall(text))
    if not han:
        return False
    simp = to_simplified(han)
    trad = to_traditional(han)
    changed_by_t2s = sum(a != b for a, b in zip(han, simp, strict=False))
    changed_by_s2t = sum(a != b for a, b in zip(han, trad, strict=False))
    return changed_by_t2s > changed_by_s2t


def normalise(text: str) -> str:
    """One canonical form for matching: NFKC (full→half width), no control characters,
    single spaces, Simplified script, lower-case Latin."""
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    return to_simplified(text).lower()


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


@dataclass
class Vocabulary:
    """The jieba user dictionary and the synonym groups of a corpus."""

    user_words: list[str] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)  # variant -> canonical term

    @classmethod
    def load(cls, dict_dir: Path) -> Vocabulary:
        """Read ``userdict.txt`` (one term per line, optional frequency and POS, jieba's format)
        and ``synonyms.txt`` (one group per line, canonical term first, separated by spaces)."""
        vocab = cls()
        user = dict_dir / "userdict.txt"
        if user.exists():
            for line in user.read_text(encoding="utf-8").splitlines():
                line = line.split("#", 1)[0].strip()
                if line:
                    vocab.user_words.append(normalise(line.split()[0]))
        syn = dict_dir / "synonyms.txt"
        if syn.exists():
            for line in syn.read_text(encoding="utf-8").splitlines():
                terms = [normalise(t) for t in line.split("#", 1)[0].split()]
                terms = [t for t in terms if t]
                for variant in terms[1:]:
                    vocab.synonyms[variant] = terms[0]
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
        self.synonyms = vocabulary.synonyms
        words = set(vocabulary.user_words) | set(vocabulary.synonyms) | set(vocabulary.synonyms.values())
        self._words = sorted(w for w in words if w)
        self._ready = False

    def _init(self) -> None:
        with self._lock:
            if not self._ready:
                self._jieba.initialize()
                pinyin.syllables()
                for word in self._words:
                    self._jieba.add_word(word, freq=max(self._jieba.suggest_freq(word), 2000))
                self._ready = True

    def words(self, normalised: str) -> list[str]:
        """jieba words of already-normalised text, synonyms replaced by their canonical term."""
        if not self._ready:
            self._init()
        out = []
        for word in self._jieba.lcut(normalised, HMM=True):
            word = word.strip()
            if word and _WORDLIKE.search(word):
                out.append(self.synonyms.get(word, word))
        return out

    def tokens(self, normalised: str) -> list[str]:
        """All lexical tokens: words, ``#``-prefixed character bigrams and unigrams, and
        ``@``-prefixed pinyin syllable bigrams and unigrams.

        A query typed in pinyin has only the pinyin tokens (and its Latin words).
        """
        typed_pinyin = pinyin.of_pinyin_query(normalised)
        if typed_pinyin is not None:
            return self.words(normalised) + pinyin.grams(typed_pinyin)
        words = self.words(normalised)
        grams: list[str] = []
        for run in _CJK.findall("".join(words)):
            grams.extend("#" + run[i : i + 2] for i in range(len(run) - 1))
            grams.extend("#" + ch for ch in run)
        # Syllables of the text as typed (before synonyms): homophone typos still share them.
        return words + grams + pinyin.grams(pinyin.of_chinese(normalised))

    def is_pinyin(self, normalised: str) -> bool:
        """True when the query is typed in pinyin rather than characters."""
        return pinyin.of_pinyin_query(normalised) is not None
