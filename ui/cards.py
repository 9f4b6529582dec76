"""HTML for one chat reply (answer card or fallback), built from a ``POST /v1/ask`` body.

Every text from the corpus or the resident goes through ``html.escape``: the chat renders
this HTML, so nothing a question or an entry contains can become markup or script.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

from qa.text import in_script, to_simplified

STATUS_CLASS = {"现行有效": "ok", "已修订": "revised", "已废止": "repealed"}


def _label(text: str, reply: dict[str, Any]) -> str:
    return in_script(text, reply.get("script_form") or reply["script"])


def _paragraphs(text: str) -> str:
    return "<br>".join(escape(line) for line in text.splitlines())


def _source(source: dict[str, Any], reply: dict[str, Any]) -> str:
    page = "/policy/" + quote(source["id"], safe="")
    status = source["status"]
    badge = STATUS_CLASS.get(to_simplified(status), "ok")
    doc_no = f' <span class="qa-docno">{escape(source["doc_no"])}</span>' if source["doc_no"] else ""
    official = ""
    if source["url"].startswith(("https://", "http://")):
        official = (f' · <a class="qa-official" href="{escape(source["url"])}" target="_blank" '
                    f'rel="noopener noreferrer">{_label("原文", reply)}</a>')
    return (f'<li><a class="qa-policy" href="{page}" target="_blank">{escape(source["title"])}</a>{doc_no} '
            f'<span class="qa-badge qa-{badge}">{escape(status)}</span>{official}</li>')


def reply_html(reply: dict[str, Any]) -> str:
    """The chat bubble for a reply: one line of HTML per block, no blank lines (the chat's
    Markdown renderer would otherwise split the block)."""
    parts: list[str] = []
    understood = reply.get("understood") or {}
    if understood.get("corrected"):
        parts.append(f'<div class="qa-corrected">{_label("您是不是要找", reply)}：'
                     f'<b>{escape(understood["corrected"])}</b></div>')
    if understood.get("followup_of"):
        parts.append(f'<div class="qa-followup">{_label("结合上一个问题，按这个意思回答", reply)}：'
                     f'{escape(understood["searched"])}</div>')
    if reply.get("clarify"):
        parts.append('<div class="qa-card qa-clarify">')
        parts.append(f'<div class="qa-text">{escape(reply["clarify"]["question"])}</div>')
    elif reply["answered"]:
        answer = reply["answer"]
        parts.append('<div class="qa-card qa-answered">')
        parts.append(f'<div class="qa-matched">{_label("匹配问题", reply)}：{escape(answer["question"])}</div>')
        parts.append(f'<div class="qa-text">{_paragraphs(answer["text"])}</div>')
        if answer["sources"]:
            items = "".join(_source(s, reply) for s in answer["sources"])
            parts.append(f'<div class="qa-sources"><div class="qa-label">{_label("政策依据", reply)}</div>'
                         f'<ul>{items}</ul></div>')
        parts.append(f'<div class="qa-meta">{escape(answer["category"])}</div>')
    else:
        parts.append('<div class="qa-card qa-fallback">')
        parts.append(f'<div class="qa-text">{escape(reply["message"])}</div>')
        parts.append(f'<div class="qa-hotline">{_label("政务服务便民热线", reply)}：'
                     f'<a href="tel:{escape(reply["hotline"])}">{escape(reply["hotline"])}</a></div>')
    if reply["related"]:
        heading = "猜你想问" if reply["answered"] else "您是不是想问"
        parts.append(f'<div class="qa-label qa-related">{_label(heading, reply)}：</div>')
    parts.append("</div>")
    return "".join(parts)


def reply_options(reply: dict[str, Any]) -> list[dict[str, str]]:
    """Clickable chips: a clarifying question's options, or the related questions (each asks its
    question when clicked; the chat answers a clarifying option's entry directly)."""
    items = reply["clarify"]["options"] if reply.get("clarify") else reply["related"]
    return [{"label": r["question"], "value": r["question"]} for r in items]
