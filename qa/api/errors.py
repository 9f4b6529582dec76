"""Error responses: every error is JSON ``{"error": code, "message": text}`` with a 4xx/5xx status."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa.api.deps import NotReady, OutOfScope
from qa.errors import EntryNotFound, IndexProblem, PolicyNotFound, QAError, UnknownCategory
from qa.logs import request_id
from qa.store import StoreUnavailable

log = logging.getLogger(__name__)


class BadQuery(Exception):
    """A request the API refuses, with a message for the caller."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message


class EndpointNotFound(Exception):
    """A path under /v1 that no route serves."""


class NotAuthorised(Exception):
    """An admin request without the right bearer token."""


def error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    """The one shape of every error body; ``request_id`` joins it to the server's log line."""
    body = {"error": code, "message": message, **extra}
    rid = request_id.get()
    if rid:
        body["request_id"] = rid
    return JSONResponse(status_code=status, content=body)


def _describe(exc: RequestValidationError) -> tuple[str, str]:
    first = exc.errors()[0]
    loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "body", "path")]
    field = ".".join(loc) or "request"
    kind = first.get("type", "")
    ctx = first.get("ctx") or {}
    if kind == "missing":
        if field == "request":
            return "body", "缺少请求体 (request body is missing; send a JSON object)"
        return field, f"缺少参数 {field} (missing parameter {field})"
    if kind == "string_type":
        return field, f"{field} 必须是文字 ({field} must be a string)"
    if kind in ("bool_type", "bool_parsing"):
        return field, f"{field} 必须是 true 或 false ({field} must be a boolean)"
    if kind == "list_type":
        return field, f"{field} 必须是列表 ({field} must be a list)"
    if kind == "extra_forbidden":
        return field, f"不认识的参数 {field} (unknown field {field})"
    if kind == "literal_error":
        return field, f"{field} 的取值不对，应为 {ctx.get('expected')} ({field} must be one of {ctx.get('expected')})"
    if kind == "string_pattern_mismatch":
        return field, f"{field} 格式不对 ({field} must match {ctx.get('pattern')})"
    if kind == "too_long":
        return field, f"{field} 项数过多，最多 {ctx.get('max_length')} 项 ({field} has too many items)"
    if kind in ("greater_than_equal", "less_than_equal"):
        bound = first.get("msg", "").lower().replace("input should be ", "")
        return field, f"{field} 超出范围 ({field} must be {bound})"
    if kind == "string_too_long":
        return field, f"{field} 过长，最多 {ctx.get('max_length')} 个字符 ({field} too long)"
    if kind.startswith("int_"):
        return field, f"{field} 必须是整数 ({field} must be an integer)"
    if kind == "json_invalid":
        return "body", "请求体不是有效的 JSON (request body is not valid JSON)"
    if field == "request" and kind in ("model_attributes_type", "dict_type"):
        return "body", ("请求体必须是 JSON 对象 (request body must be a JSON object, "
                        "sent with Content-Type: application/json)")
    return field, f"{field}: {first.get('msg', 'invalid')}"


def install(app: FastAPI) -> None:
    """Register the handlers that turn errors into JSON responses."""

    @app.exception_handler(BadQuery)
    async def bad_query(_: Request, exc: BadQuery) -> JSONResponse:
        return error(422, "invalid_request", exc.message, field=exc.field)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        field, message = _describe(exc)
        return error(422, "invalid_request", message, field=field)

    @app.exception_handler(EntryNotFound)
    async def not_found(_: Request, exc: EntryNotFound) -> JSONResponse:
        return error(404, "not_found", f"没有找到这条问答 ({exc})")

    @app.exception_handler(EndpointNotFound)
    async def no_endpoint(_: Request, exc: EndpointNotFound) -> JSONResponse:
        return error(404, "not_found", f"接口不存在 (no such endpoint /v1/{exc})")

    @app.exception_handler(NotAuthorised)
    async def not_authorised(_: Request, exc: NotAuthorised) -> JSONResponse:
        response = error(401, "unauthorised", str(exc))
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(PolicyNotFound)
    async def no_policy(_: Request, exc: PolicyNotFound) -> JSONResponse:
        return error(404, "not_found", f"没有找到这项政策 ({exc})")

    @app.exception_handler(UnknownCategory)
    async def unknown_category(_: Request, exc: UnknownCategory) -> JSONResponse:
        return error(422, "invalid_request", str(exc), field="categories")

    @app.exception_handler(StoreUnavailable)
    async def store_down(_: Request, exc: StoreUnavailable) -> JSONResponse:
        return error(503, "store_unavailable", f"暂时无法记录，请稍后再试 ({exc})")

    @app.exception_handler(NotReady)
    async def not_ready(_: Request, exc: NotReady) -> JSONResponse:
        return error(503, "not_ready", f"服务暂未就绪，请稍后再试 ({exc})")

    @app.exception_handler(IndexProblem)
    async def reload_refused(_: Request, exc: QAError) -> JSONResponse:
        return error(409, "reload_refused", f"新索引不可用，仍在使用原索引 ({exc})")

    @app.exception_handler(QAError)
    async def domain(_: Request, exc: QAError) -> JSONResponse:
        return error(500, "server_error", str(exc))

    @app.exception_handler(OutOfScope)
    async def out_of_scope(_: Request, exc: OutOfScope) -> JSONResponse:
        return error(403, "out_of_scope", str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return error(404, "not_found", "接口不存在 (no such endpoint)")
        if exc.status_code == 400:  # FastAPI could not decode the body (e.g. not UTF-8)
            return error(400, "invalid_body", "请求体无法解析，需要 UTF-8 编码的 JSON (request body is not UTF-8 JSON)")
        return error(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return error(500, "server_error", "服务出错了，请稍后再试；如果一直出错，请拨打12345 (unexpected server error)")
