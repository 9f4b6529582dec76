"""``GET /v1/search``: best matching entries for a question."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from qa.api.deps import SearcherDep, SettingsDep
from qa.api.errors import BadQuery
from qa.text import has_content

router = APIRouter(prefix="/v1", tags=["search"])


def check_question(q: str, max_chars: int) -> str:
    """Refuse a question the service cannot answer as asked."""
    if not q.strip():
        raise BadQuery("q", "问题不能为空 (q is empty)")
    if len(q) > max_chars:
        raise BadQuery("q", f"问题过长，请控制在{max_chars}字以内 (q is {len(q)} characters, at most {max_chars})")
    if "\x00" in q:
        raise BadQuery("q", "问题包含非法字符 (q contains a NUL byte)")
    if not has_content(q):
        raise BadQuery("q", "问题里没有文字，请用文字描述您的问题 (q has no letters, digits or Chinese characters)")
    return q


@router.get("/search", summary="Best matching Q&A entries for a question")
async def search(
    searcher: SearcherDep,
    settings: SettingsDep,
    q: Annotated[str, Query(description="the question, Simplified or Traditional Chinese", max_length=10_000)],
    k: Annotated[int, Query(ge=1, le=50, description="how many hits")] = 5,
    category: Annotated[list[str] | None, Query(description="only entries of these categories")] = None,
) -> dict[str, Any]:
    question = check_question(q, settings.max_query_chars)
    result = await run_in_threadpool(searcher.search, question, k, category)
    return result.body()
