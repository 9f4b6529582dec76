"""``POST /v1/admin/reload``: swap in the current index build with no downtime.

Admin endpoints need ``Authorization: Bearer <QA_ADMIN_TOKEN>``; with no token configured
they do not exist (404), so a forgotten setting never leaves them open.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from qa.api.deps import ServiceDep
from qa.api.errors import EndpointNotFound, NotAuthorised

router = APIRouter(prefix="/v1/admin", tags=["admin"])


def require_admin(request: Request, service: ServiceDep) -> None:
    token = service.settings.admin_token
    if not token:
        raise EndpointNotFound(request.url.path.removeprefix("/v1/"))
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise NotAuthorised("需要管理员令牌 (send Authorization: Bearer <QA_ADMIN_TOKEN>)")


@router.post("/reload", summary="Load the current index build and swap it in (admin)")
async def reload(service: ServiceDep, _: Annotated[None, Depends(require_admin)]) -> dict[str, Any]:
    return await run_in_threadpool(service.reload)
