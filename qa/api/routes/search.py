"""``GET /v1/search``: best matching entries for a question."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from qa.api.deps import ApiKeyDep, SearcherDep, ServiceDep, scoped_categories
from qa.api.errors import BadQuery
from qa.text import question_problem

router = APIRouter(prefix="/v1", tags=["search"])


def check_question(q: str, max_chars: int, field: str = "q") -> str:
    """Refuse a question the service cannot answer as asked; ``field`` names it in the error."""
    problem = question_problem(q, max_chars)
    messages = {
        "empty": f"问题不能为空 ({field} is empty)",
        "too_long": f"问题过长，请控制在{max_chars}字以内 ({field} is {len(q)} characters, at most {max_chars})",
        "nul": f"问题包含非法字符 ({field} contains a NUL byte)",
        "control": f"问题包含控制字符，请只输入文字 ({field} contains control characters)",
        "no_content": f"问题里没有文字，请用文字描述您的问题 ({field} has no letters, digits or Chinese characters)",
    }
    if problem:
        raise BadQuery(field, messages[problem])
    return q


@router.get("/search", summary="Best matching Q&A entries for a question")
async def search(
    searcher: SearcherDep,
    service: ServiceDep,
    key: ApiKeyDep,
    q: Annotated[str, Query(description="the question, Simplified or Traditional Chinese", max_length=10_000)],
    k: Annotated[int, Query(ge=1, le=50, description="how many hits")] = 5,
    category: Annotated[
        list[str] | None, Query(description="only entries of these categories (names or slugs)")
    ] = None,
) -> dict[str, Any]:
    question = check_question(q, service.settings.max_query_chars)
    categories = scoped_categories(searcher, category, key)
    result = await service.search(searcher, question, k, categories)
    await service.note_query_async(result, "api")
    return result.body()
