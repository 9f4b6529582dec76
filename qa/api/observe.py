"""Request ids, access log lines and Prometheus metrics.

The outermost middleware gives every request an id (a sane incoming ``X-Request-ID`` is kept, so a
proxy's id carries through), returns it in the ``X-Request-ID`` response header and in JSON error
bodies, logs one JSON line per request (method, path without the query string — a query may hold
personal details —, route, status, milliseconds, hashed client IP), and counts it for ``/metrics``.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa.api.clients import ClientAddress, header, parse_networks
from qa.logs import IPHasher, request_id

if TYPE_CHECKING:
    from qa.config import Settings
    from qa.metrics import Metrics

access = logging.getLogger("qa.access")
INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def route_label(scope: Scope) -> str:
    """A bounded label: the route's template (``/v1/entries/{entry_id}``), else the area of the site."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if template and template != "/v1/{path:path}":
        return str(template)
    path: str = scope.get("path", "")
    if path.startswith("/v1/"):
        return "/v1/(unknown)"
    if path.startswith(("/gradio_api/", "/assets/", "/static/")) or path in ("/", "/manifest.json", "/favicon.ico"):
        return "/ (chat)"
    return "(other)"


class RequestContext:
    def __init__(self, app: ASGIApp, metrics: Metrics, settings: Settings) -> None:
        self.app = app
        self.metrics = metrics
        self.client = ClientAddress(parse_networks(settings.trusted_proxies))
        self.hash_ip = IPHasher(settings.ip_hash_salt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = header(scope, b"x-request-id") or ""
        rid = incoming if INCOMING_ID.match(incoming) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500
        logged = False

        def log_request() -> None:
            nonlocal logged
            logged = True
            seconds = time.perf_counter() - started
            route = route_label(scope)
            self.metrics.requests.labels(route, scope["method"], str(status)).inc()
            self.metrics.latency.labels(route).observe(seconds)
            access.info("%s %s %d", scope["method"], scope["path"], status, extra={
                "method": scope["method"], "path": scope["path"], "route": route, "status": status,
                "ms": round(seconds * 1000, 1), "client": self.hash_ip(self.client(scope)),
            })

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", rid.encode())]}
            elif message["type"] == "http.response.body" and not message.get("more_body", False) and not logged:
                # Logged before the last byte leaves: a client that has its answer can rely on the line
                # being written, even if the server is killed the next instant.
                log_request()
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if not logged:
                log_request()
            request_id.reset(token)
