"""Follow-up questions: a short question that continues the previous one, rewritten to stand alone.

After "个人怎么交社保", "那企业呢？" means "企业怎么交社保"; after "怎么申请公租房", "要带啥材料"
means "申请公租房要带啥材料". Three readings are made here:

- ``contrast``: 企业 after 个人, 买房 after 租房, 居民 after 职工 — the word of the same group in
  the previous question is swapped for the new one (groups in ``corpus/dict/contrasts.txt``,
  read into ``Vocabulary.contrasts``);
- ``substitute``: a bare noun (高企呢？ after 专精特新有效期几年) takes the place of the part of the
  previous question it is most like (``qa.understand`` picks the part with the encoder);
- ``detail``: 材料, 多久, 在哪办, 收费吗 — the previous question's topic, without its question
  words, followed by the new question.

Which reading is *used*, if any, is decided by ``qa.understand``: the most specific one unless
another is clearly more confident, when it beats the question alone, the question plainly leans
on the last one, or the question names no topic of its own.
"""

from __future__ import annotations

import re

from qa.text import normalise

MAX_CHARS = 12  # longer questions carry their own topic
# How a continuation starts or ends (那企业呢 / 如果是买房的话 / 还有呢).
_LEADING = re.compile(r"^(那么|那如果是|那如果|那要是|那|如果是|要是|还有|另外|再问一下|再问下)")
_TRAILING = re.compile(r"(的话|呢|吗|嘛)$")
_PUNCTUATION = re.compile(r"[\s,.?!;:，。？！；：、…~～\"“”'‘’()（）]+")
# Question words dropped from the previous question before a detail is added to it.
_QUESTION_WORDS = re.compile(
    r"(怎么样|怎么办|怎么|咋办|咋|如何|怎样|怎么弄|是什么|什么|哪些|哪里|哪儿|多少|吗|呢|啊|吧|请问)"
)


def core(question: str) -> str:
    """The question without punctuation or the words that only mark it as a continuation."""
    text = _PUNCTUATION.sub("", normalise(question))
    for _ in range(2):  # 那如果是买房的话呢
        text = _LEADING.sub("", text)
        text = _TRAILING.sub("", text)
    return text


def leans_on_previous(question: str) -> bool:
    """True when the question plainly continues the last one (那…, …呢, 如果是…的话)."""
    text = _PUNCTUATION.sub("", normalise(question))
    return bool(_LEADING.match(text) or re.search(r"(呢|的话)$", text))


def is_candidate(question: str) -> bool:
    """Short enough to be a follow-up (a longer question carries its own topic)."""
    return 0 < len(core(question)) <= MAX_CHARS


def contrast(previous: str, question: str, contrasts: list[set[str]]) -> str | None:
    """The previous question with its word of a contrast group swapped for the follow-up's, or None."""
    before = normalise(previous)
    new = core(question)
    for group in contrasts:
        # the longest word of the group in each text (城乡居民 before 居民)
        said = next((w for w in sorted(group, key=len, reverse=True) if w in new), None)
        old = next((w for w in sorted(group, key=len, reverse=True) if w in before), None)
        if said and old and said != old:
            swapped = before.replace(old, said)
            rest = new.replace(said, "", 1)
            return f"{swapped} {rest}".strip() if rest and rest not in swapped else swapped
    return None


def detail(previous: str, question: str) -> str:
    """The previous question's topic (without its question words) followed by the follow-up."""
    topic = _QUESTION_WORDS.sub("", _PUNCTUATION.sub(" ", normalise(previous))).strip()
    return f"{topic} {core(question)}".strip()


def spans(pieces: list[str], longest: int = 3) -> list[str]:
    """Runs of one to ``longest`` consecutive words of the previous question (two characters or
    more, no punctuation): the parts a bare noun follow-up (高企呢？) may stand in for."""
    found = []
    for i in range(len(pieces)):
        for j in range(i + 1, min(len(pieces), i + longest) + 1):
            text = "".join(pieces[i:j])
            if len(text) >= 2 and not _PUNCTUATION.search(text) and not _QUESTION_WORDS.fullmatch(text):
                found.append(text)
    return list(dict.fromkeys(found))


def substitute(previous: str, span: str, question: str) -> str:
    """The previous question with ``span`` replaced by the follow-up's words (专精特新有效期几年 +
    高企呢 → 高企有效期几年)."""
    return normalise(previous).replace(span, core(question), 1)


def has_question_words(question: str) -> bool:
    """True when the follow-up asks something itself (多久, 怎么, 哪里 …) rather than naming a thing."""
    said = core(question)
    return bool(_QUESTION_WORDS.search(said) or re.search(r"(多久|能不能|可以|要不要|几)", said))
