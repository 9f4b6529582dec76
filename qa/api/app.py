"""Assemble the FastAPI app: ``create_app(settings)``; model and index load in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp

import qa
from qa import heap
from qa.api import errors
from qa.api.guard import Guard
from qa.api.headers import SecurityHeaders
from qa.api.observe import RequestContext
from qa.api.routes import admin, ask, entries, feedback, health, metrics, policies, search
from qa.config import Settings, get_settings
from qa.keys import KeyRing, KeysInvalid, normalise_origin
from qa.service import Service


class KeyedCORS(CORSMiddleware):
    """CORS for the configured origins plus every API key's origins (read when the keys file changes)."""

    def __init__(self, app: ASGIApp, origins: list[str], keys: KeyRing) -> None:
        super().__init__(app, allow_origins=origins, allow_methods=["GET", "POST"],
                         allow_headers=["Content-Type", "X-API-Key", "X-Request-ID"],
                         expose_headers=["Retry-After", "X-Request-ID"], max_age=600)
        self.keys = keys

    def is_allowed_origin(self, origin: str) -> bool:
        if super().is_allowed_origin(origin):
            return True
        try:
            return normalise_origin(origin) in self.keys.origins()
        except KeysInvalid:
            return False


def create_app(settings: Settings | None = None, service: Service | None = None) -> FastAPI:
    """The API app, and with ``settings.ui`` the chat at ``/``, policy pages and the widget.

    Pass a loaded ``service`` to skip loading (tests, embedding); the chat is built from the
    loaded index (its packs and categories), so ``qa serve`` loads before it creates the app.
    """
    settings = settings or get_settings()
    state = service or Service(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state.searcher is None:
            await run_in_threadpool(state.load)
        heap.keep_passes_short()  # a server runs for days: keep the collector's pauses short
        yield
        heap.stop_keeping()

    app = FastAPI(
        title="政策问答 Policy Q&A",
        version=qa.__version__,
        description="Answers residents' policy questions from a curated Q&A corpus, with links to the policies.",
        lifespan=lifespan,
        # No OpenTelemetry here (/metrics is Prometheus): FastAPI's native telemetry otherwise
        # looks up its providers on every request, 7 % of a cached /v1/search's time.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.service = state
    errors.install(app)
    try:
        origins = [normalise_origin(o) for o in settings.allowed_origins]
    except KeysInvalid as exc:
        raise KeysInvalid(f"QA_CORS_ORIGINS: {exc}") from exc
    keys = KeyRing(settings.api_keys_file)
    # Outermost last: request id and access log → security headers → CORS → guard → routes.
    app.add_middleware(Guard, settings=settings, keys=keys, routes=lambda: app.routes,
                       on_limited=lambda limit: state.metrics.rate_limited.labels(limit).inc())
    app.add_middleware(KeyedCORS, origins=origins, keys=keys)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestContext, metrics=state.metrics, settings=settings)
    for module in (search, ask, feedback, entries, policies, health, metrics, admin):
        app.include_router(module.router)

    @app.api_route("/v1/{path:path}", methods=["GET", "POST"], include_in_schema=False)
    async def unknown_endpoint(path: str) -> None:
        # Keeps /v1/… 404s JSON even when the chat (mounted at /) would take the path.
        raise errors.EndpointNotFound(path)

    if settings.ui:
        mount_ui(app, state)
    return app


def mount_ui(app: FastAPI, service: Service) -> None:
    """Policy pages, the widget, and the Gradio chat at ``/`` (mounted last: it takes every other path)."""
    from ui import pages
    from ui.chat import CSS, build_chat
    from ui.gradio_import import gr

    app.include_router(pages.router)
    theme = gr.themes.Soft(primary_hue="red", font=["system-ui", "PingFang SC", "Microsoft YaHei", "sans-serif"],
                           font_mono=["ui-monospace", "monospace"])
    gr.mount_gradio_app(app, build_chat(service), path="/", css=CSS, theme=theme, ssr_mode=False,
                        footer_links=[], show_error=False)


def worker_app() -> FastAPI:
    """One worker of ``qa serve --workers N`` (a uvicorn factory): load, then serve.

    ``qa serve`` has already checked the index in the parent, so a worker that cannot load it
    (the build changed in between) stays up, not ready, and says why at ``/readyz``. A worker
    whose parent is killed outright stops (gracefully) instead of serving on unsupervised.
    """
    import os

    from qa import logs
    from qa.lifecycle import follow_parent, stop_gracefully

    follow_parent(os.getppid(), stop_gracefully)
    settings = get_settings()
    logs.configure(settings.log_format)
    service = Service(settings)
    service.load()
    if settings.watch:
        service.watch(settings.watch_seconds)
    return create_app(settings, service)
