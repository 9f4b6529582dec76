"""Soak test: drive ``qa serve`` with mixed real questions at high concurrency for a bounded time.

``qa soak`` starts its own server on a free localhost port (rate limits off, a throw-away
database, so editors' reports stay clean), or drives ``--url`` — which must be localhost. Each
worker loops over the gold questions: mostly ``GET /v1/search``, every fourth ``POST /v1/ask``,
every twentieth a ``POST /v1/feedback``. It records every status and every transport error
(refused, reset, timed out), latency percentiles, and the server's resident memory every few
seconds. It passes when there were no 5xx, no transport errors, and memory grew by less than
``max_growth`` from the end of the first fifth of the run (minute 1 of 5) to the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from qa.config import REPO_ROOT
from qa.errors import QAError

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
MAX_GROWTH = 0.10


@dataclass
class SoakResult:
    seconds: float
    concurrency: int
    requests: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    server_errors: int = 0
    transport_errors: int = 0
    transport_error_kinds: dict[str, int] = field(default_factory=dict)
    transport_error_samples: list[str] = field(default_factory=list)  # the first few, with when and what
    requests_per_second: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)
    rss_mb: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, MB)
    rss_growth: float | None = None  # end vs end of the first fifth
    workers: int = 1
    cores: int = os.cpu_count() or 1
    passed: bool = False

    def verdict(self, max_growth: float = MAX_GROWTH) -> list[str]:
        problems = []
        if self.server_errors:
            problems.append(f"{self.server_errors} responses were 5xx")
        if self.transport_errors:
            problems.append(f"{self.transport_errors} requests failed in transport ({self.transport_error_kinds})")
        if self.rss_growth is not None and self.rss_growth >= max_growth:
            problems.append(f"server memory grew {self.rss_growth:.1%} (limit {max_growth:.0%})")
        if not self.requests:
            problems.append("no request completed")
        return problems


def gold_questions(gold_dir: Path = REPO_ROOT / "eval" / "gold") -> list[str]:
    questions = []
    for path in sorted(gold_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                questions.append(json.loads(line)["query"])
    if not questions:
        raise QAError(f"no gold questions in {gold_dir}: the soak test drives real questions from the gold set")
    return questions


def child_pids(pid: int) -> list[int]:
    """The children of a process (its threads come and go while we read them)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # the thread ended meanwhile
            found.extend(int(child) for child in (task / "children").read_text().split())
    return found


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of a process and its children (the workers of ``qa serve --workers N``);
    ``field="RssAnon"``: only its private part, not pages of memory-mapped files."""
    total = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            total += int(line.split()[1]) / 1024
    for child in child_pids(pid):
        with contextlib.suppress(OSError):  # ended meanwhile
            total += rss_mb(child, field)
    return total


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def drive(base: str, questions: list[str], seconds: float, concurrency: int, pid: int | None,
                timeout: float = 30.0) -> SoakResult:
    import httpx

    result = SoakResult(seconds=seconds, concurrency=concurrency)
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    latencies: list[float] = []
    started = time.monotonic()
    stop_at = started + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(number: int, client: httpx.AsyncClient) -> None:
        rng = random.Random(number)
        turn = 0
        while time.monotonic() < stop_at:
            question = rng.choice(questions)
            turn += 1
            t0 = time.perf_counter()
            try:
                if turn % 4 == 0:
                    response = await client.post("/v1/ask", json={"question": question, "channel": "api"})
                    body = response.json() if response.status_code == 200 else {}
                    answer = body.get("answer") or {}
                    if turn % 20 == 0 and answer.get("id"):
                        await client.post("/v1/feedback", json={"query": question, "entry_id": answer["id"],
                                                                "helpful": rng.random() < 0.8})
                else:
                    response = await client.get("/v1/search", params={"q": question, "k": 5})
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] += 1
                if len(result.transport_error_samples) < 10:
                    result.transport_error_samples.append(
                        f"{time.monotonic() - started:.1f}s {exc.request.method} {exc.request.url.path}: {exc!r}")
                continue
            latencies.append((time.perf_counter() - t0) * 1000)
            statuses[str(response.status_code)] += 1

    async def sample_memory() -> None:
        while pid is not None and time.monotonic() < stop_at:
            result.rss_mb.append((round(time.monotonic() - started, 1), round(rss_mb(pid), 1)))
            await asyncio.sleep(max(1.0, seconds / 60))

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=timeout) as client:
        await asyncio.gather(sample_memory(), *(worker(n, client) for n in range(concurrency)))
    if pid is not None:
        result.rss_mb.append((round(time.monotonic() - started, 1), round(rss_mb(pid), 1)))
    elapsed = time.monotonic() - started
    result.requests = sum(statuses.values())
    result.statuses = dict(sorted(statuses.items()))
    result.server_errors = sum(n for s, n in statuses.items() if s.startswith("5"))
    result.transport_errors = sum(errors.values())
    result.transport_error_kinds = dict(errors)
    result.requests_per_second = round(result.requests / elapsed, 1)
    result.latency_ms = {name: round(_percentile(latencies, q), 1)
                         for name, q in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))}
    if len(result.rss_mb) >= 2:
        first_fifth = next((mb for t, mb in result.rss_mb if t >= seconds / 5), result.rss_mb[0][1])
        result.rss_growth = round(result.rss_mb[-1][1] / first_fifth - 1, 4)
    result.passed = not result.verdict()
    return result


def free_port() -> int:
    """A TCP port on localhost that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(env_overrides: dict[str, str], log_path: Path, ready_within: float = 240.0
                 ) -> tuple[subprocess.Popen[bytes], str]:
    """``qa serve`` on a free localhost port; returns the process and its base URL once ready."""
    import httpx

    port = free_port()
    env = {**os.environ, "QA_HOST": "127.0.0.1", "QA_PORT": str(port), **env_overrides}
    log = log_path.open("wb")
    server = subprocess.Popen([sys.executable, "-m", "qa", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_within
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise QAError(f"qa serve exited ({server.returncode}): {log_path.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return server, base
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    server.kill()
    raise QAError(f"qa serve not ready in {ready_within:.0f} s; see {log_path}")


def stop_server(server: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Stop a server from ``start_server``: SIGTERM (it finishes in-flight requests), then SIGKILL."""
    server.terminate()
    try:
        server.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def soak(seconds: float, concurrency: int, url: str | None = None, pid: int | None = None,
         work_dir: Path | None = None, workers: int = 1, warmup: float = 0.0) -> SoakResult:
    """Run the soak test; with no ``url``, against a ``qa serve`` started (and stopped) here.

    ``warmup`` seconds of the same load come first and are not counted: a short run's memory is
    still growing into its caches and pools at the end of its first fifth (a 20-second run grew
    5–10 % from second 4 to 20, where the 5-minute run grew 3.6 % from minute 1 to 5).
    """
    questions = gold_questions()
    if url is not None:
        host = urlsplit(url).hostname or ""
        if host not in LOCAL_HOSTS:
            raise QAError(f"the soak test only drives a server on this machine (localhost), not {host!r}")
        return asyncio.run(drive(url.rstrip("/"), questions, seconds, concurrency, pid))
    work = Path(work_dir or tempfile.mkdtemp(prefix="qa-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {"QA_RATE_LIMIT_PER_MINUTE": "0", "QA_DATABASE_URL": f"sqlite:///{work / 'soak.sqlite3'}",
           "QA_LOG_FORMAT": "json", "QA_WORKERS": str(workers)}
    server, base = start_server(env, work / "serve.log")
    try:
        if warmup:
            asyncio.run(drive(base, questions, warmup, concurrency, None))
        result = asyncio.run(drive(base, questions, seconds, concurrency, server.pid))
        result.workers = workers
        return result
    finally:
        stop_server(server)


def summary(result: SoakResult) -> str:
    lat = result.latency_ms
    growth = "n/a" if result.rss_growth is None else f"{result.rss_growth:+.1%}"
    rss = f"{result.rss_mb[0][1]:.0f} → {result.rss_mb[-1][1]:.0f} MB" if result.rss_mb else "n/a"
    return (f"{result.requests} requests in {result.seconds:.0f} s at concurrency {result.concurrency}, "
            f"{result.workers} worker(s) "
            f"({result.requests_per_second}/s, {result.cores} cores); statuses {result.statuses}; "
            f"5xx {result.server_errors}; transport errors {result.transport_errors}; "
            f"latency p50 {lat.get('p50')} ms, p95 {lat.get('p95')} ms, p99 {lat.get('p99')} ms; "
            f"server RSS {rss} (growth after the first fifth {growth})")


def as_json(result: SoakResult) -> str:
    return json.dumps(asdict(result), ensure_ascii=False, indent=1)
