"""Security headers: on every response ``nosniff`` and a referrer policy; on HTML a Content-Security-Policy.

The CSP allows scripts only from this origin and, for the inline scripts the chat page (Gradio)
needs, a fresh nonce per response that this middleware stamps on the page's own ``<script>``
tags; so text from a question or an entry that ever ended up as markup could not run. Styles may
be inline (Gradio and the widget's shadow root set them), connections go only to this origin,
and no other site may frame the pages. ``/docs`` gets the CDN it loads Swagger UI from.
"""

from __future__ import annotations

import re
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

COMMON = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"strict-origin-when-cross-origin")]
COMMON_NAMES = {name for name, _ in COMMON}
CSP = ("default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; media-src 'self' blob:; "
       "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'")
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "img-src 'self' data: https://fastapi.tiangolo.com; "
            "object-src 'none'; base-uri 'self'; frame-ancestors 'self'")
DOCS = ("/docs", "/redoc", "/docs/oauth2-redirect")
# Whole script elements, in document order: a "<script" inside one (a string in Gradio's config)
# is part of that element, not a tag, and is left alone.
SCRIPT = re.compile(rb"<script\b([^>]*)>(.*?)</script\s*>", re.S | re.I)


def stamp_nonce(html: bytes, nonce: str) -> bytes:
    mark = f' nonce="{nonce}"'.encode()
    return SCRIPT.sub(lambda m: b"<script" + mark + m.group(1) + b">" + m.group(2) + b"</script>", html)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        body: list[bytes] = []
        nonce = secrets.token_urlsafe(16)

        async def send_secured(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() not in COMMON_NAMES]
                headers += COMMON
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if not content_type.startswith(b"text/html"):
                    await send({**message, "headers": headers})
                    return
                policy = DOCS_CSP if scope["path"] in DOCS else CSP.format(nonce=nonce)
                headers.append((b"content-security-policy", policy.encode()))
                start = {**message, "headers": headers}  # held until the body is complete
                return
            if start is None:
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            html = stamp_nonce(b"".join(body), nonce)
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(html)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": html, "more_body": False})

        await self.app(scope, receive, send_secured)
