"""What a front end shows for one question: the answer card, or an honest fallback.

``compose(result)`` turns a ``SearchResult`` into the ``POST /v1/ask`` body, which the
Gradio chat and the embeddable widget render as they are, with no logic of their own:

- answered: the answer text, the matched question, the source policies (with the link to
  the policy's page here and to the official text), and "猜你想问", the next closest questions;
- not answered: a plain message that we have no reliable answer, the closest questions,
  and the 12345 hotline. A weak match is never presented as an answer.

Around them, what ``qa.understand`` made of the question: the spelling or pinyin correction it
used ("您是不是要找：…"), the previous question a follow-up was read with, or — instead of an
answer — a clarifying question whose options the front end shows as buttons (each asks
``/v1/ask`` again with its ``entry_id``).

Everything a resident reads comes back in the script they typed: a question in Traditional
characters gets Traditional text (OpenCC; Taiwan or Hong Kong character forms when the question
used them), a Simplified one Simplified.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qa.search import Hit
from qa.text import SIMPLIFIED, in_script, script_of
from qa.understand import Understanding

HOTLINE = "12345"
RELATED = 4  # how many "猜你想问" questions follow an answer
FALLBACK = (
    "抱歉，这个问题我还没有可靠的答案，不想给您不准确的信息。"
    "您可以看看下面这些相近的问题，或拨打12345政务服务便民热线咨询。"
)
FALLBACK_NO_SUGGESTIONS = "抱歉，这个问题我还没有可靠的答案。请换个说法再问，或拨打12345政务服务便民热线咨询。"


def _card(hit: Hit, script: Callable[[str], str]) -> dict[str, Any]:
    return {
        "id": hit.id,
        "question": script(hit.question),
        "text": script(hit.answer),
        "category": script(hit.category),
        "score": round(hit.score, 4),
        "sources": [
            {
                "id": s.id, "title": script(s.title), "doc_no": script(s.doc_no), "issuer": script(s.issuer),
                "status": script(s.status), "url": s.url, "page": f"/policy/{s.id}",
            }
            for s in hit.sources
        ],
    }


def compose(taken: Understanding, session_id: str | None = None) -> dict[str, Any]:
    """The ``POST /v1/ask`` body for one understood question."""
    result = taken.result
    form = script_of(result.query)

    def script(text: str) -> str:
        return in_script(text, form)

    clarify = None
    if taken.clarify is not None:
        answer, rest = None, []
        message: str | None = taken.clarify.question
        clarify = {"question": script(taken.clarify.question),
                   "options": [{"id": h.id, "question": script(h.question)} for h in taken.clarify.options]}
    elif result.answered:
        top, rest = result.hits[0], result.hits[1 : 1 + RELATED]
        answer = _card(top, script)
        message = None
    else:
        answer, rest = None, result.hits[:3]
        message = FALLBACK if rest else FALLBACK_NO_SUGGESTIONS
    return {
        "question": result.query,
        "script": "simplified" if form == SIMPLIFIED else "traditional",
        "script_form": form,
        "answered": answer is not None,
        "answer": answer,
        "message": script(message) if message else None,
        "clarify": clarify,
        "understood": {
            "corrected": script(taken.corrected) if taken.corrected else None,
            "followup_of": script(taken.followup_of) if taken.followup_of else None,
            "searched": script(taken.searched),
        },
        "related": [{"id": h.id, "question": script(h.question)} for h in rest],
        "hotline": HOTLINE,
        "session_id": session_id,
        "took_ms": round(result.took_ms, 2),
    }
