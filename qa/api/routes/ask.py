"""``POST /v1/ask``: what a front end shows for one question (answer card or honest fallback)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from qa.api.deps import ApiKeyDep, SearcherDep, ServiceDep, scoped_categories
from qa.api.routes.search import check_question
from qa.errors import EntryNotFound
from qa.reply import RELATED, compose

router = APIRouter(prefix="/v1", tags=["chat"])

SessionId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="opaque id the front end keeps")]


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(max_length=10_000, description="the question, Simplified or Traditional Chinese")
    session_id: SessionId | None = None
    categories: list[Annotated[str, Field(max_length=64)]] | None = Field(
        default=None, max_length=30, description="only answer from these categories (names, slugs or name prefixes)"
    )
    channel: Literal["chat", "widget", "api"] = Field(default="api", description="which front end asks")
    entry_id: Annotated[str, Field(max_length=64)] | None = Field(
        default=None, description="answer this entry: the option a resident picked from a clarifying question"
    )


@router.post("/ask", summary="Answer card, clarifying question or fallback for a question, in the asker's script")
async def ask(body: AskRequest, service: ServiceDep, searcher: SearcherDep, key: ApiKeyDep) -> dict[str, Any]:
    """With a ``session_id`` a short follow-up (那企业呢？) is read with the session's last question
    (kept server-side for ``QA_SESSION_TTL_SECONDS``)."""
    question = check_question(body.question, service.settings.max_query_chars, "question")
    categories = scoped_categories(searcher, body.categories, key)
    if body.entry_id is not None:
        entry = searcher.entry(body.entry_id)  # 404 for an unknown id
        names = searcher.category_names(categories)
        if names and entry["category"] not in names:
            raise EntryNotFound(f"no entry with id {body.entry_id!r} in this key's categories")
    taken = await service.ask(searcher, question, 1 + RELATED, categories, body.session_id, body.entry_id)
    await service.note_query_async(taken.result, body.channel)
    return compose(taken, body.session_id)
