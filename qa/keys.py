"""Enterprise API keys: which sites may use the widget with a key, in which categories, how often.

The keys file (``QA_API_KEYS_FILE``, one JSON object per line) holds only each key's SHA-256, its
name, the origins it works from (``*``: any, for a server calling the API), the categories it may
answer from (empty: all) and its own rate. ``qa keys add`` prints the key once; nobody can read it
back from the file or the logs. The running service rereads the file when it changes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from qa.errors import QAError

log = logging.getLogger(__name__)

PREFIX = "qak_"
RECHECK_SECONDS = 2.0


class KeysInvalid(QAError):
    """The keys file cannot be read, or a key's fields are wrong."""


@dataclass(frozen=True)
class ApiKey:
    name: str
    sha256: str
    origins: tuple[str, ...]
    categories: tuple[str, ...] = ()
    per_minute: int | None = None  # None: QA_KEY_RATE_LIMIT_PER_MINUTE
    created: str = field(default="", compare=False)

    def allows_origin(self, origin: str | None) -> bool:
        return "*" in self.origins or (origin is not None and normalise_origin(origin) in self.origins)


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def normalise_origin(origin: str) -> str:
    """``https://Shop.Example:443/`` → ``https://shop.example``; ``*`` stays; anything else is refused."""
    origin = origin.strip()
    if origin == "*":
        return origin
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") or parts.query:
        raise KeysInvalid(f"{origin!r} is not an origin; write it as https://www.example.com (scheme and host only)")
    default = {"http": 80, "https": 443}[parts.scheme]
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


def _parse(line: str, where: str) -> ApiKey:
    try:
        data = json.loads(line)
        key = ApiKey(
            name=str(data["name"]), sha256=str(data["sha256"]),
            origins=tuple(normalise_origin(o) for o in data["origins"]),
            categories=tuple(str(c) for c in data.get("categories") or ()),
            per_minute=None if data.get("per_minute") is None else int(data["per_minute"]),
            created=str(data.get("created", "")),
        )
    except KeysInvalid as exc:
        raise KeysInvalid(f"{where}: {exc}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise KeysInvalid(f"{where}: not a key record ({type(exc).__name__}: {exc}); fix or remove the line, "
                          "or manage keys with `qa keys`") from exc
    if len(key.sha256) != 64 or not key.origins:
        raise KeysInvalid(f"{where}: a key needs its sha256 and at least one origin")
    return key


def read_keys(path: Path) -> list[ApiKey]:
    """Every key in the file (none when it does not exist)."""
    if not path.exists():
        return []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise KeysInvalid(f"cannot read {path}: {exc}") from exc
    return [_parse(line, f"{path}:{n}") for n, line in enumerate(lines, 1) if line.strip()]


def _write_keys(path: Path, keys: list[ApiKey]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as out:
        for key in keys:
            out.write(json.dumps(asdict(key), ensure_ascii=False) + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def add_key(path: Path, name: str, origins: list[str], categories: list[str] | None = None,
            per_minute: int | None = None) -> str:
    """Create a key, store its hash, and return the key itself (shown to the operator once)."""
    keys = read_keys(path)
    if any(k.name == name for k in keys):
        raise KeysInvalid(f"a key named {name!r} exists; revoke it (`qa keys revoke {name}`) or pick another name")
    if not origins:
        raise KeysInvalid("give the site's origin (--origin https://www.example.com), or --origin '*' for a server")
    if per_minute is not None and per_minute < 0:
        raise KeysInvalid("--per-minute must be 0 (no limit) or more")
    raw = PREFIX + secrets.token_urlsafe(24)
    key = ApiKey(name=name, sha256=digest(raw), origins=tuple(normalise_origin(o) for o in origins),
                 categories=tuple(categories or ()), per_minute=per_minute,
                 created=datetime.now(UTC).isoformat(timespec="seconds"))
    _write_keys(path, [*keys, key])
    return raw


def revoke_key(path: Path, name: str) -> None:
    keys = read_keys(path)
    kept = [k for k in keys if k.name != name]
    if len(kept) == len(keys):
        raise KeysInvalid(f"no key named {name!r} in {path}; `qa keys list` shows them")
    _write_keys(path, kept)


class KeyRing:
    """The keys the service accepts, reread (at most every 2 s) when the file changes.

    A file that breaks while the service runs is logged and the keys already loaded stay.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp = self._file_stamp()
        self._by_digest = {k.sha256: k for k in read_keys(path)}  # a bad file stops start-up
        self._checked = time.monotonic()

    def _file_stamp(self) -> tuple[float, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return (stat.st_mtime, stat.st_size)

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._checked < RECHECK_SECONDS:
            return
        with self._lock:
            self._checked = now
            stamp = self._file_stamp()
            if stamp == self._stamp:
                return
            try:
                keys = read_keys(self.path)
            except KeysInvalid as exc:
                log.error("keys file changed but is unusable, keeping the %d keys loaded: %s",
                          len(self._by_digest), exc)
                self._stamp = stamp
                return
            self._by_digest = {k.sha256: k for k in keys}
            self._stamp = stamp
            log.info("keys reloaded: %d keys", len(keys))

    def find(self, raw: str) -> ApiKey | None:
        self._refresh()
        return self._by_digest.get(digest(raw))

    def origins(self) -> set[str]:
        self._refresh()
        return {o for k in self._by_digest.values() for o in k.origins if o != "*"}

    def __len__(self) -> int:
        return len(self._by_digest)
