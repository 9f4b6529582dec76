"""``POST /v1/feedback``: 👍/👎 on an answer, committed to the store before the response."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from qa.api.deps import ApiKeyDep, SearcherDep, ServiceDep, scoped_categories
from qa.api.routes.ask import SessionId
from qa.api.routes.search import check_question
from qa.store import Feedback

router = APIRouter(prefix="/v1", tags=["chat"])


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(max_length=10_000, description="the question the answer was for")
    entry_id: str = Field(max_length=64, description="the entry that answered it")
    helpful: bool = Field(description="true for 👍, false for 👎")
    session_id: SessionId | None = None
    channel: Literal["chat", "widget", "api"] = "api"


@router.post("/feedback", status_code=201, summary="Record whether an answer helped")
async def feedback(body: FeedbackRequest, service: ServiceDep, searcher: SearcherDep,
                   key: ApiKeyDep) -> dict[str, Any]:
    query = check_question(body.query, service.settings.max_query_chars, "query")
    entry = searcher.entry(body.entry_id)  # 404 for an entry that does not exist
    scoped_categories(searcher, [entry["category"]], key)  # 403 for an entry outside the key's scope
    item = Feedback(query=query, entry_id=body.entry_id, helpful=body.helpful, session_id=body.session_id,
                    channel=body.channel)
    row = await run_in_threadpool(service.record_feedback, item)
    return {"recorded": True, "id": row}
