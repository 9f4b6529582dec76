"""``/healthz`` (the process is up) and ``/readyz`` (an index is loaded and matches)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from qa.api.deps import ServiceDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(service: ServiceDep) -> dict[str, Any] | JSONResponse:
    if service.searcher is None:
        return JSONResponse(status_code=503, content={"status": "not_ready", "reason": service.not_ready})
    manifest = service.searcher.index.manifest
    return {"status": "ready", "entries": manifest.entries, "model": manifest.model, "built_at": manifest.built_at}
