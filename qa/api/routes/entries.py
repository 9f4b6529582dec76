"""``GET /v1/qa/{id}`` and ``GET /v1/categories``: the corpus as served."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import APIRouter

from qa.api.deps import SearcherDep

router = APIRouter(prefix="/v1", tags=["corpus"])


@router.get("/qa/{entry_id}", summary="One Q&A entry with its source policies")
async def get_entry(entry_id: str, searcher: SearcherDep) -> dict[str, Any]:
    return searcher.entry(entry_id)


@router.get("/categories", summary="Categories with their entry counts")
async def categories(searcher: SearcherDep) -> list[dict[str, Any]]:
    counts = Counter(searcher.index.entries.categories)
    return [{"name": c["name"], "slug": c["slug"], "entries": counts.get(c["name"], 0)}
            for c in searcher.index.categories]
