"""Assemble the FastAPI app: ``create_app(settings)``; model and index load in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

import qa
from qa.api import errors
from qa.api.routes import entries, health, search
from qa.config import Settings, get_settings
from qa.service import Service


def create_app(settings: Settings | None = None, service: Service | None = None) -> FastAPI:
    """The API app. Pass a loaded ``service`` to skip loading (tests, embedding)."""
    settings = settings or get_settings()
    state = service or Service(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state.searcher is None:
            await run_in_threadpool(state.load)
        yield

    app = FastAPI(
        title="政策问答 Policy Q&A",
        version=qa.__version__,
        description="Answers residents' policy questions from a curated Q&A corpus, with links to the policies.",
        lifespan=lifespan,
    )
    app.state.service = state
    errors.install(app)
    app.include_router(search.router)
    app.include_router(entries.router)
    app.include_router(health.router)
    return app
