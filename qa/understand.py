"""Understanding a question as it was typed, around the search: spelling, pinyin, follow-ups, ambiguity.

``understand(searcher, question, k, categories, previous)`` searches the question, then tries
the readings a resident may have meant, keeping one only when it finds a more confident answer:

- a **correction** of sound-alike typos (医保异地报消 → 医保异地报销), or characters for a
  question typed in pinyin (gongjijin tiqu → 公积金提取): shown as "您是不是要找：…";
- a **follow-up** of the ``previous`` question of the same conversation (那企业呢？ after
  个人怎么交社保 → 企业怎么交社保): taken when the question plainly continues the last one
  (那…, …呢), or names no topic of its own (要带啥材料) and the reading is about as confident as
  the question alone; a question naming its own policy term (个税怎么交) stands on its own;

and then asks a **clarifying question** instead of guessing: when the entry found first is one
case of an everyday question the editors recorded in ``corpus/cases.jsonl`` and the resident named
none of its cases (公积金转移咋办: 转出, 转入 or 本市换单位; see ``ask_case``), or, where no case group
applies, when two entries about as good each narrow the question differently (see ``ask_which``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from qa import followup, pinyin
from qa.search import Hit, Searcher, SearchResult
from qa.text import normalise

# A follow-up reading within this of the most confident one may be preferred for being more
# specific; a question with no policy term of its own is read as a follow-up when its reading is
# within this of the question alone.
FOLLOWUP_SLACK = 0.1
CLARIFY_OPTIONS = 3  # entries a clarifying question weighs and offers: the first and two runner-ups
# idf in the phrasings' BM25 (measured on eval/gold: 怎么 1.2, 材料 2.5, 多少 2.9; 租房 5.0, 职工 4.6).
QUALIFIER_IDF = 3.5  # a word of an entry's question the resident did not say narrows it
# How a question asks, or which detail it wants, not what about: never a narrowing (住房公积金怎么
# 提取？在哪里办理？ and 营业执照怎么办理？需要什么材料？ are as general as the questions they answer).
QUESTION_WORDS = frozenset({
    "哪里", "哪儿", "在哪里", "去哪里", "去哪儿", "什么", "什么样", "什么时候", "时候", "怎么", "怎样", "怎么样",
    "怎么办", "如何", "多少", "多久", "多长时间", "哪些", "哪个", "为什么", "可以", "需要", "能否", "是否",
    "能不能", "有没有", "还能", "还要", "要不要", "是不是", "一下", "办理", "申请", "咋办", "咋整", "哪办",
    "多少钱", "一个月", "每个月", "每个", "能领", "能办", "能报", "要交", "得交", "哪天", "请问", "现在", "一般",
    "材料", "条件", "满足", "准备", "流程", "手续", "要求", "费用", "时间", "多长",
})
TELLING_IDF = 3.0  # a word of the question that a reading of it must hold
CASE_DEPTH = 20  # how far down the ranking another case of an everyday question is looked for
CASE_MARGIN = 0.35  # ... and how close to the first entry it must score
CLARIFY_QUESTION = "您想问的是下面哪一种情况？请点选："


@dataclass
class Clarify:
    question: str
    options: list[Hit]


@dataclass
class Understanding:
    """What a question was taken to mean and what the search found for it."""

    result: SearchResult  # its ``query`` is the question as typed
    searched: str  # the text the result was searched with
    corrected: str | None = None  # a spelling or pinyin correction that was used
    followup_of: str | None = None  # the previous question this one was read as continuing
    clarify: Clarify | None = None


def _top(result: SearchResult) -> float:
    return result.hits[0].score if result.hits else 0.0


def suggestion(searcher: Searcher, question: str) -> str | None:
    """Characters for a pinyin question, or the question with its sound-alike typos corrected."""
    text = normalise(question)
    syllables = pinyin.of_pinyin_query(text)
    if syllables is not None:
        return searcher.index.speller.from_pinyin(syllables)
    return searcher.index.speller.correct(text, searcher.index.tokenizer)


def topical(searcher: Searcher, question: str) -> bool:
    """True when the question names a topic of its own: a policy term of the corpus's dictionaries
    (居住证, 公租房, 护士执业注册), not only words every topic shares (材料, 多久, 网上能办吗)."""
    tokenizer = searcher.index.tokenizer
    return any(w in tokenizer.terms and w not in QUESTION_WORDS for w in tokenizer.words(normalise(question)))


def followup_readings(searcher: Searcher, previous: str, question: str) -> list[str]:
    """The ways ``question`` may continue ``previous`` (see ``qa.followup``), most specific first: a
    contrast swap, or a bare noun (高企呢) standing in for the part of the previous question the
    encoder finds most like it; then the previous topic with the question added."""
    from qa.encoder import encode

    readings = []
    swapped = followup.contrast(previous, question, searcher.index.tokenizer.vocabulary.contrasts)
    if swapped:
        readings.append(swapped)
    elif followup.leans_on_previous(question) and not followup.has_question_words(question):
        parts = followup.spans(searcher.index.tokenizer.pieces(normalise(previous)))
        if parts:
            said = followup.core(question)
            vectors = encode(searcher.encoder, [said, *parts])
            span = parts[int((vectors[1:] @ vectors[0]).argmax())]
            if span in said:  # 开养老院 after 住养老院: replace 住养老院, not only 养老院
                wider = [p for p in parts if p != span and (p.endswith(span) or p.startswith(span))]
                span = min(wider, key=len) if wider else span
            readings.append(followup.substitute(previous, span, question))
    readings.append(followup.detail(previous, question))
    return readings


def _narrowing(searcher: Searcher, question: set[str], entry_id: str) -> set[str]:
    """Words of the entry's question that the resident did not say and that narrow it (职工, 租房提取):
    rarer than the words every question shares (怎么, 材料), and not part of a word the resident did
    say (住房公积金 is said in 住房公积金提取)."""
    idf = searcher.index.lexical.idf
    said = " ".join(question)
    return {w for w in searcher.entry_words(entry_id, question_only=True)[1] - question
            if idf.get(w, 0.0) >= QUALIFIER_IDF and w not in QUESTION_WORDS and w not in said}


def _covers(searcher: Searcher, question: set[str], entry_id: str) -> bool:
    """True when every telling word of the question (rarer than 怎么, 多少; not a question word) is
    in the entry's phrasings (as a word, or a two-character word character by character: 上学 in
    上公办小学): the entry is one full reading of what the resident said."""
    idf = searcher.index.lexical.idf
    text, words = searcher.entry_words(entry_id)
    return all(w in words or w in text or (len(w) == 2 and set(w) <= set(text)) for w in question
               if idf.get(w, 99.0) >= TELLING_IDF and w not in QUESTION_WORDS)


def ask_which(searcher: Searcher, result: SearchResult, searched: str) -> Clarify | None:
    """A clarifying question when the question is less specific than the entries that fit it.

    Asked when the first entry is answered, holds every telling word of the question and narrows it
    by words the resident did not say (养老金能领多少 → 城乡居民养老保险…), and a runner-up within
    ``clarify_margin`` holds them too but narrows it differently (职工…) and does not give the same
    answer. A resident who said which (租房提取…) is answered, not asked; a question neither entry
    fully holds is a search that is unsure, not a question that is ambiguous.
    """
    margin = searcher.settings.clarify_margin
    if not margin or not result.answered or len(result.hits) < 2:
        return None
    said = {w for w in searcher.index.tokenizer.words(normalise(searched)) if len(w) >= 2}
    first = result.hits[0]
    mine = _narrowing(searcher, said, first.id)
    if not mine or not _covers(searcher, said, first.id):
        return None
    close = []
    for hit in result.hits[1:CLARIFY_OPTIONS]:
        if first.score - hit.score > margin or searcher.same_answer(first.id, hit.id):
            continue
        theirs = _narrowing(searcher, said, hit.id)
        if theirs - mine and mine - theirs and _covers(searcher, said, hit.id):
            close.append(hit)
    return Clarify(CLARIFY_QUESTION, [first, *close]) if close else None


def _own_words(searcher: Searcher, group: dict[str, Any]) -> list[set[str]]:
    """Per case of a group, the words of its entry's phrasings that no other case's phrasings have
    (成年人 for 成年人改名, 裁员 for 被裁员的补偿): telling (idf ≥ ``TELLING_IDF``), not question words,
    and not the group's topic (sharing two characters with its ask, as 公积金异地转移 does with
    公积金转移怎么办). Derived once per build (``Searcher.derived``)."""
    key = ("case own words", group["id"])
    if key not in searcher.derived:
        searcher.derived[key] = _derive_own_words(searcher, group)
    return searcher.derived[key]  # type: ignore[no-any-return]


def _derive_own_words(searcher: Searcher, group: dict[str, Any]) -> list[set[str]]:
    idf = searcher.index.lexical.idf
    ask = normalise(group["ask"])
    topic = {ask[i:i + 2] for i in range(len(ask) - 1)}
    words = [searcher.entry_words(c["entry"])[1] for c in group["cases"]]
    own = []
    for i, mine in enumerate(words):
        others = set().union(*(w for j, w in enumerate(words) if j != i))
        own.append({w for w in mine - others if idf.get(w, 0.0) >= TELLING_IDF and w not in QUESTION_WORDS
                    and not any(w[j:j + 2] in topic for j in range(len(w) - 1))})
    return own


def names_case(searcher: Searcher, group: dict[str, Any], text: str) -> bool:
    """True when the (normalised) question names a case of the group: one of the words the editors
    listed for it (转到外地), or a word only that case's phrasings have, as the resident typed it.
    Not through the synonyms: they map a case's everyday word onto the topic's (退休金 → 养老金)."""
    if any(w in text for c in group["cases"] for w in c["words"]):
        return True
    said = set(searcher.index.tokenizer.words(text))  # whole words (才能落户 does not say 能落)
    return any(w in said and w in text for own in _own_words(searcher, group) for w in own)


def named_groups(searcher: Searcher, first: Hit, searched: str) -> set[str]:
    """The case groups of the first entry whose case the resident named (公积金怎么转到外地 names
    转出 of 公积金转移怎么办): for those the question is specific and is answered, not asked about."""
    text = normalise(searched)
    return {g["id"] for g in searcher.index.case_groups_of.get(first.id, []) if names_case(searcher, g, text)}


def ask_case(searcher: Searcher, result: SearchResult, ranked: list[Hit], named: set[str],
             categories: list[str] | None = None) -> Clarify | None:
    """A clarifying question from the corpus's case groups (``corpus/cases.jsonl``).

    Asked when the first entry is answered and is a case of an everyday question the editors
    recorded (公积金转移怎么办: 转出 or 转入), the resident named none of its cases (``named`` holds the
    groups they did, from ``named_groups``), and another case
    of it is among the ``ranked`` entries within ``CASE_MARGIN`` of the first (the search finds
    both readings plausible). The options are every case of the group within the asker's
    categories, the first entry first.
    """
    if not searcher.settings.clarify_margin or not result.answered or not ranked:
        return None
    first = ranked[0]
    groups = searcher.index.case_groups_of.get(first.id)
    if not groups:
        return None
    allowed = searcher.category_names(categories)
    scores = {h.id: h.score for h in ranked}
    for group in groups:
        cases = [c["entry"] for c in group["cases"] if not searcher.lapsed(c["entry"])
                 and (allowed is None or searcher.entry(c["entry"])["category"] in allowed)]
        others = [e for e in cases if e != first.id]
        if not others or group["id"] in named:
            continue
        if any(first.score - scores.get(e, -1.0) <= CASE_MARGIN for e in others):
            return Clarify(CLARIFY_QUESTION, [first, *(searcher.hit(e, scores.get(e, 0.0)) for e in others)])
    return None


def understand(searcher: Searcher, question: str, k: int = 5, categories: list[str] | None = None,
               previous: str | None = None) -> Understanding:
    """The best reading of ``question`` (asked after ``previous`` in the same conversation, if any)."""
    settings = searcher.settings
    wanted, k = k, max(k, CASE_DEPTH)
    first = searcher.search(question, k, categories)
    took = first.took_ms
    taken = Understanding(result=first, searched=question)
    fixed = suggestion(searcher, question)
    if fixed:
        other = searcher.search(fixed, k, categories)
        took += other.took_ms
        if _top(other) > _top(taken.result) + settings.correction_gain:
            taken = Understanding(result=other, searched=fixed, corrected=fixed)
    if previous and followup.is_candidate(question):
        readings = []
        for text in followup_readings(searcher, previous, taken.searched):
            readings.append((text, searcher.search(text, k, categories)))
            took += readings[-1][1].took_ms
        # The most specific reading (a swap or substitution before "topic + question") unless
        # another is clearly more confident.
        most = max(_top(r) for _, r in readings)
        text, other = next((t, r) for t, r in readings if _top(r) >= most - FOLLOWUP_SLACK)
        alone = _top(taken.result)
        if followup.leans_on_previous(question) or \
                (not topical(searcher, taken.searched) and _top(other) >= alone - FOLLOWUP_SLACK):
            taken = Understanding(result=other, searched=text, corrected=taken.corrected, followup_of=previous)
    ranked = taken.result.hits
    taken.result = replace(taken.result, query=question, took_ms=took, hits=ranked[:wanted])
    # The editors' case groups first; the word-overlap rule only where no group says the resident
    # named a case (公积金怎么转到外地 is answered).
    named = named_groups(searcher, ranked[0], taken.searched) if ranked else set()
    taken.clarify = ask_case(searcher, taken.result, ranked, named, categories) or (
        None if named else ask_which(searcher, taken.result, taken.searched))
    return taken
