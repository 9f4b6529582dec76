"""Log lines for operators: one JSON object per line, carrying the request id; no raw IPs, no secrets.

``request_id`` is set by the API's request middleware for the duration of a request, so every
line logged while serving it (access line, store failure, error) can be joined on it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_make_record = logging.getLogRecordFactory()


def _record_with_request_id(*args: object, **kwargs: object) -> logging.LogRecord:
    """Every log record carries the id of the request being served when it was made."""
    record = _make_record(*args, **kwargs)
    record.request_id = request_id.get()
    return record


logging.setLogRecordFactory(_record_with_request_id)

# Extra fields a log call may pass (``log.info(..., extra={...})``) that go into the JSON line.
FIELDS = ("method", "path", "route", "status", "ms", "client")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)  # set when the record was made (see above)
        if rid:
            line["request_id"] = rid
        for name in FIELDS:
            if name in record.__dict__:
                line[name] = record.__dict__[name]
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure(fmt: str = "json", level: int = logging.INFO) -> None:
    """Send every logger (ours, uvicorn's) to stderr in ``fmt`` (json or text)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


class IPHasher:
    """Client IPs as a keyed hash: the same client gets the same tag, which does not reveal the address."""

    def __init__(self, salt: str = "") -> None:
        self._key = salt.encode() if salt else secrets.token_bytes(32)

    def __call__(self, ip: str) -> str:
        return hmac.new(self._key, ip.encode(), hashlib.sha256).hexdigest()[:16]
