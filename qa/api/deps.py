"""Typed dependencies for the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from qa.errors import QAError
from qa.search import Searcher
from qa.service import Service


class NotReady(QAError):
    """The service has no usable index loaded."""


def get_service(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


def get_searcher(service: Annotated[Service, Depends(get_service)]) -> Searcher:
    if service.searcher is None:
        raise NotReady(service.not_ready or "index not loaded")
    return service.searcher


ServiceDep = Annotated[Service, Depends(get_service)]
SearcherDep = Annotated[Searcher, Depends(get_searcher)]
