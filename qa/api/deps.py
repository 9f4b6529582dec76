"""Typed dependencies for the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from qa.errors import QAError
from qa.keys import ApiKey
from qa.search import Searcher
from qa.service import Service


class NotReady(QAError):
    """The service has no usable index loaded."""


async def get_service(request: Request) -> Service:
    # async: a plain ``def`` dependency costs a thread hop per request (FastAPI runs it in the pool)
    return request.app.state.service  # type: ignore[no-any-return]


async def get_searcher(service: Annotated[Service, Depends(get_service)]) -> Searcher:
    if service.searcher is None:
        raise NotReady(service.not_ready or "index not loaded")
    return service.searcher


ServiceDep = Annotated[Service, Depends(get_service)]
SearcherDep = Annotated[Searcher, Depends(get_searcher)]


async def get_api_key(request: Request) -> ApiKey | None:
    """The enterprise key the request came with (checked by ``qa.api.guard``), if any."""
    return request.scope.get("state", {}).get("api_key")


class OutOfScope(QAError):
    """A request for something an API key does not cover (a category outside its scope)."""


def scoped_categories(searcher: Searcher, requested: list[str] | None, key: ApiKey | None) -> list[str] | None:
    """The categories to answer from: what was asked for, within the key's scope when it has one."""
    if key is None or not key.categories:
        return requested
    allowed = searcher.category_names(list(key.categories)) or []
    if not requested:
        return allowed
    wanted = searcher.category_names(requested) or []
    outside = [c for c in wanted if c not in allowed]
    if outside:
        raise OutOfScope(f"该密钥不能查询这些分类：{'、'.join(outside)} (API key {key.name!r} covers only "
                         f"{', '.join(allowed)})")
    return wanted


ApiKeyDep = Annotated[ApiKey | None, Depends(get_api_key)]
