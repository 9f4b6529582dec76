"""What a request must pass before a route sees it: rate limits, API keys and origins, body size.

One ASGI middleware (inside CORS, so its refusals still reach a widget on another site):

0. **Methods**: only GET, HEAD and POST (CORS preflights are answered before this), and on the
   service's own paths only the methods their route takes; anything else is 405 here, before the
   chat mounted at ``/`` could answer it with its own 404.

1. **Rate limit per client IP** (``QA_RATE_LIMIT_PER_MINUTE``, burst ``QA_RATE_LIMIT_BURST``) on API
   calls (``/v1/…``) and chat questions (``POST /gradio_api/…``): ``429`` with ``Retry-After``.
2. **Origins and keys** on ``/v1/…``: a request with an ``Origin`` must come from an allowed origin
   (``QA_CORS_ORIGINS``, the service's own) or from a key's origin with that key in ``X-API-Key``;
   a key used from an origin it does not list is refused (403); an unknown key is 401. A key's own
   rate (all its visitors together) applies on top of the per-IP one.
3. **Body size**: bodies over ``QA_MAX_BODY_BYTES`` get ``413`` (declared or streamed).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa.api.clients import ClientAddress, header, parse_networks
from qa.api.errors import error
from qa.config import Settings
from qa.keys import ApiKey, KeyRing, KeysInvalid, normalise_origin

METHODS = ("GET", "HEAD", "POST")
CATCH_ALL = "/v1/{path:path}"  # qa.api.app's JSON 404 for unknown /v1 paths
MAX_CLIENTS = 50_000  # buckets kept before idle ones are dropped


class TokenBuckets:
    """Token bucket per client: ``burst`` calls at once, refilled at ``per_minute``."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, when)

    def take(self, client: str, per_minute: int, burst: int) -> float:
        """Spend one token; return 0 when allowed, else the seconds until one is available."""
        if per_minute <= 0:
            return 0.0
        rate = per_minute / 60.0
        now = time.monotonic()
        tokens, when = self._buckets.get(client, (float(burst), now))
        tokens = min(float(burst), tokens + (now - when) * rate)
        if tokens < 1.0:
            self._buckets[client] = (tokens, now)
            return (1.0 - tokens) / rate
        if len(self._buckets) >= MAX_CLIENTS and client not in self._buckets:
            self._forget_idle(now, rate, burst)
        self._buckets[client] = (tokens - 1.0, now)
        return 0.0

    def _forget_idle(self, now: float, rate: float, burst: int) -> None:
        full = [c for c, (t, w) in self._buckets.items() if t + (now - w) * rate >= burst]
        for client in full or list(self._buckets)[: len(self._buckets) // 2]:
            del self._buckets[client]


def _limited(scope: Scope) -> bool:
    path: str = scope["path"]
    return path.startswith("/v1/") or (scope["method"] == "POST" and path.startswith("/gradio_api/"))


def _same_origin(scope: Scope, origin: str) -> bool:
    """A page of this service calling it (the widget demo), whatever address it was opened on."""
    host = header(scope, b"host")
    return host is not None and origin.split("://", 1)[-1] == host.lower()


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str, retry_after: float | None = None,
                 allow: str | None = None) -> None:
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after
        self.allow = allow


class Guard:
    def __init__(self, app: ASGIApp, settings: Settings, keys: KeyRing, on_limited: object = None,
                 routes: Callable[[], list[Any]] = list) -> None:
        self.app = app
        self.routes = routes  # the app's routes, read at the first request (all are registered by then)
        self._own: list[BaseRoute] | None = None
        self.settings = settings
        self.keys = keys
        self.client = ClientAddress(parse_networks(settings.trusted_proxies))
        self.buckets = TokenBuckets()
        self.own_origins = {normalise_origin(o) for o in settings.allowed_origins}
        self.on_limited = on_limited  # callable(scope_name) counting refusals, for /metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # CORS preflights never get here: the CORS middleware answers them
            await self.app(scope, receive, send)
            return
        try:
            self._check_method(scope)
            if _limited(scope):
                self._rate_limit(scope, f"ip:{self.client(scope)}", self.settings.rate_limit_per_minute, "ip")
            if scope["path"].startswith("/v1/"):
                key = self._check_origin_and_key(scope)
                if key is not None:
                    scope.setdefault("state", {})["api_key"] = key
                    per_minute = self.settings.key_rate_limit_per_minute if key.per_minute is None else key.per_minute
                    self._rate_limit(scope, f"key:{key.sha256}", per_minute, "key")
            receive = await self._bounded_body(scope, receive)
        except Refused as refusal:
            response = error(refusal.status, refusal.code, refusal.message)
            if refusal.retry_after is not None:
                response.headers["Retry-After"] = str(max(1, math.ceil(refusal.retry_after)))
            if refusal.allow is not None:
                response.headers["Allow"] = refusal.allow
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _check_method(self, scope: Scope) -> None:
        method = scope["method"]
        if method not in METHODS:
            raise Refused(405, "method_not_allowed", f"不支持 {method} 请求 (this service takes GET and POST)",
                          allow=", ".join(METHODS))
        if self._own is None:  # the service's own routes: all but the chat's mount and the /v1 catch-all
            self._own = [r for r in self.routes() if not isinstance(r, Mount) and getattr(r, "path", "") != CATCH_ALL]
        partial = False
        for route in self._own:  # most requests match a route fully, and stop there
            match = route.matches(scope)[0]
            if match is Match.FULL:
                return
            partial = partial or match is Match.PARTIAL
        if partial:  # our path, another method
            raise Refused(405, "method_not_allowed", f"这个地址不支持 {method} 请求 (method not allowed here)")

    def _rate_limit(self, scope: Scope, client: str, per_minute: int, kind: str) -> None:
        burst = self.settings.rate_limit_burst if kind == "ip" else max(self.settings.rate_limit_burst, per_minute // 6)
        wait = self.buckets.take(client, per_minute, burst)
        if wait > 0:
            if callable(self.on_limited):
                self.on_limited(kind)
            who = "client IP" if kind == "ip" else "API key"
            raise Refused(429, "rate_limited", f"请求过于频繁，请 {max(1, math.ceil(wait))} 秒后再试 "
                          f"(rate limit: {per_minute} per minute per {who})", retry_after=wait)

    def _check_origin_and_key(self, scope: Scope) -> ApiKey | None:
        raw = header(scope, b"x-api-key")
        origin_header = header(scope, b"origin")
        try:
            origin = normalise_origin(origin_header) if origin_header else None
        except KeysInvalid:  # "null" (a sandboxed frame, a file) or garbage
            raise Refused(403, "origin_not_allowed",
                          f"来源网站不被允许 (Origin {origin_header!r} is not an origin)") from None
        if raw:
            key = self.keys.find(raw.strip())
            if key is None:
                raise Refused(401, "unknown_api_key", "API 密钥无效 (unknown X-API-Key; ask the service for a key)")
            if not key.allows_origin(origin):
                raise Refused(403, "origin_not_allowed",
                              f"该密钥不能在此网站使用 (this API key is not allowed from origin {origin!r})")
            return key
        if origin is None or origin in self.own_origins or "*" in self.own_origins or _same_origin(scope, origin):
            return None
        if origin in self.keys.origins():
            raise Refused(401, "api_key_required",
                          f"此网站需要使用 API 密钥 (origin {origin} must send its key in X-API-Key: data-key)")
        raise Refused(403, "origin_not_allowed",
                      f"来源网站不被允许 (origin {origin} is not in QA_CORS_ORIGINS and has no API key)")

    async def _bounded_body(self, scope: Scope, receive: Receive) -> Receive:
        limit = self.settings.max_body_bytes
        too_big = Refused(413, "body_too_large",
                          f"请求内容过大，最多 {limit // 1024} KB (request body over {limit} bytes)")
        declared = header(scope, b"content-length")
        if declared is not None:
            try:
                if int(declared) > limit:
                    raise too_big
            except ValueError:
                raise Refused(400, "bad_request", "Content-Length 不是数字 (Content-Length is not a number)") from None
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            return receive
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return _replay([message])
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_big
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return _replay([{"type": "http.request", "body": b"".join(chunks), "more_body": False}], receive)


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive
