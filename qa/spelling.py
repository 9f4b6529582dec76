"""Spelling: homophone typos and pinyin typed for characters, put right against the corpus's words.

Residents type on phones with pinyin keyboards, so most typos sound like the word they meant
(公基金 for 公积金, 报消 for 报销, 社报 for 社保), and with the keyboard's Chinese mode off a
question arrives as pinyin (``gongjijin tiqu``). Both are corrected here against the words
the corpus itself uses (the build's ``spelling.json``: each word's syllables and how many
phrasings use it), never against a general dictionary, so a correction always names something
the corpus can answer. Whether a correction is *used* is decided by ``qa.understand``: only when it makes
the search more confident, and it is then shown ("您是不是要找：…").
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import orjson

from qa import pinyin
from qa.text import Tokenizer, Vocabulary

FILE = "spelling.json"
MAX_WORD = 6  # characters (and syllables) in the longest word a typo is matched against
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_HAN_WORD = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{1,6}$")
# Characters residents type right: a window that needs one of them changed is no typo (怎么 stays
# 怎么 and 不交 stays 不交, however a corpus word sounds).
_FUNCTION_CHARS = set("的了吗呢吧啊么怎什哪谁我你他她不没别未无非")


def corpus_words(tokens: Iterable[str]) -> list[str]:
    """The Chinese words among lexical tokens (not the ``#`` character grams or ``@`` syllables)."""
    return sorted({t for t in tokens if _HAN_WORD.match(t)})


def _syllables(word: str) -> list[str]:
    # Imported on first use: a rebuild whose words the previous build already had never loads
    # pypinyin's phrase dictionary (0.7 s).
    from pypinyin import Style, lazy_pinyin

    return list(lazy_pinyin(word, style=Style.NORMAL, v_to_u=False, errors="ignore"))


def write_spelling(folder: Path, idf: dict[str, float], n_docs: int, vocabulary: Vocabulary,
                   previous: Path | None = None) -> None:
    """``spelling.json`` for a build: the syllables of each corpus word and how many documents use it.

    The dictionary's words count too (a synonym such as 公积金 never appears among the tokens,
    which hold its canonical 住房公积金), as often as their canonical term. Syllables of words the
    previous build already had are reused (pinyin of 14,000 words takes ~1 s).
    """
    known: dict[str, list[str]] = {}
    if previous is not None and (previous / FILE).exists():
        try:
            known = {w: v[0] for w, v in orjson.loads((previous / FILE).read_bytes()).items()}
        except (ValueError, KeyError, IndexError, TypeError):
            known = {}

    def df(token: str) -> int:  # idf = ln(1 + (n - df + 0.5) / (df + 0.5)), solved for df
        e = math.exp(idf[token])
        return max(1, round((n_docs + 0.5 - 0.5 * (e - 1)) / e))

    counts = {word: df(word) for word in corpus_words(idf)}
    dictionary = set(vocabulary.user_words) | set(vocabulary.synonyms) | set(vocabulary.synonyms.values())
    for word in vocabulary.user_words:
        counts.setdefault(word, 1)
    for variant, canonical in vocabulary.synonyms.items():
        counts[variant] = max(counts.get(variant, 0), counts.get(canonical, 0), 1)
    words = {}
    for word, count in counts.items():
        if not _HAN_WORD.match(word):
            continue
        syllables = known.get(word) or _syllables(word)
        if len(syllables) == len(word):
            words[word] = [syllables, count, int(word in dictionary)]
    (folder / FILE).write_bytes(orjson.dumps(words))


@dataclass
class _Word:
    text: str
    df: int


class Speller:
    """``Speller.load(folder)``; ``correct(text, tokenizer)`` for Chinese, ``from_pinyin(syllables)`` for pinyin."""

    def __init__(self, words: dict[str, tuple[list[str], int]], dictionary: Iterable[str] = ()) -> None:
        self._dictionary = set(dictionary)
        self._sounds: dict[tuple[str, ...], list[_Word]] = {}
        for word, (syllables, df) in words.items():
            self._sounds.setdefault(tuple(syllables), []).append(_Word(word, df))
        for candidates in self._sounds.values():
            candidates.sort(key=lambda w: -w.df)  # the commonest word first

    @classmethod
    def load(cls, folder: Path) -> Speller:
        """The speller of a build folder (an empty one when the build has no ``spelling.json``)."""
        path = folder / FILE
        data = orjson.loads(path.read_bytes()) if path.exists() else {}
        return cls({w: (v[0], int(v[1])) for w, v in data.items()}, [w for w, v in data.items() if v[2]])

    def _sound_alike(self, window: str, tokenizer: Tokenizer) -> str | None:
        """The commonest word that sounds exactly like ``window``, shares a character with it in place,
        is a real word (of the corpus's dictionaries, or of jieba's and in two phrasings or more: not
        one of jieba's guesses at new words) and changes none of the characters people type right
        (怎, 么, 不 …)."""
        syllables = pinyin.of_chinese(window)
        if len(syllables) != len(window):
            return None
        for word in self._sounds.get(tuple(syllables), ()):
            if word.text not in self._dictionary and (word.df < 2 or not tokenizer.knows(word.text)):
                continue
            pairs = list(zip(word.text, window, strict=True))
            if word.text != window and any(a == b for a, b in pairs) and \
                    not any(a != b and b in _FUNCTION_CHARS for a, b in pairs):
                return word.text
        return None

    def correct(self, text: str, tokenizer: Tokenizer) -> str | None:
        """``text`` with its sound-alike typos replaced by words, or None when nothing changed.

        ``tokenizer.pieces`` cuts text into dictionary words (jieba without its guesses at new words), so a
        typo shows up as stray characters: 公基金 → 公/基金, 报消 → 报/消. A run of whole pieces with
        at least one stray character in it, longest first, is replaced by a dictionary word that
        sounds exactly like it (see ``_sound_alike``); a word the pieces already hold is never cut
        (用公积金 does not become 用工积金).
        """
        segments = tokenizer.pieces(text)
        out: list[str] = []
        changed = False
        i = 0
        while i < len(segments):
            for j in range(len(segments), i + 1, -1):
                run = segments[i:j]
                window = "".join(run)
                if len(window) > MAX_WORD or not _HAN_WORD.match(window) or all(len(p) > 1 for p in run):
                    continue
                fix = self._sound_alike(window, tokenizer)
                if fix is not None:
                    out.append(fix)
                    changed = True
                    i = j
                    break
            else:
                out.append(segments[i])
                i += 1
        return "".join(out) if changed else None

    def from_pinyin(self, syllables: list[str]) -> str | None:
        """Characters for a question typed in pinyin: the fewest corpus words that spell its syllables
        (longer words first, then commoner ones), or None when too little of it is corpus words."""
        n = len(syllables)
        # best[j]: (cost, words) spelling syllables[:j]
        best: list[tuple[float, list[str]] | None] = [None] * (n + 1)
        best[0] = (0.0, [])
        for end in range(1, n + 1):
            for start in range(max(0, end - MAX_WORD), end):
                head = best[start]
                if head is None:
                    continue
                candidates = self._sounds.get(tuple(syllables[start:end]))
                if candidates:
                    word = candidates[0]
                    cost = head[0] + 1.0 - min(word.df, 1000) / 10_000  # fewer words first, commoner breaks ties
                    piece = [word.text]
                elif end - start == 1:
                    cost, piece = head[0] + 3.0, []  # a syllable no corpus word spells is dropped
                else:
                    continue
                current = best[end]
                if current is None or cost < current[0]:
                    best[end] = (cost, head[1] + piece)
        found = best[n]
        if found is None:
            return None
        spelled = sum(len(w) for w in found[1])
        return "".join(found[1]) if spelled >= 0.7 * n and spelled >= 2 else None
