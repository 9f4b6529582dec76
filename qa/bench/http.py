"""``qa serve`` under load: wrk (Debian's package) on localhost, GET /v1/search with varied real
queries (a Lua script cycles through the gold questions, each wrk thread from its own offset).

wrk is a C program: an async Python client would spend ~4.5 ms of CPU per request on the same
two cores the server needs, and measure itself.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from qa.config import Settings
from qa.errors import QAError
from qa.soak import child_pids, rss_mb, start_server, stop_server
from qa.text import question_problem

LUA = """
local paths = {}
for line in io.lines(os.getenv("QA_BENCH_PATHS")) do paths[#paths + 1] = line end
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("offset", counter * 97)
end
function init(args)
  i = offset or 0
end
function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
"""

MAX_QUERY_CHARS = Settings.model_fields["max_query_chars"].default
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip()).groups()  # type: ignore[union-attr]
    return round(float(value) * UNITS[unit], 2)


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests/s, latency percentiles and errors from ``wrk --latency`` output."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if rps is None:
        raise QAError(f"wrk printed no Requests/sec:\n{output[-1500:]}")
    pct = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", output, re.M))
    total = re.search(r"(\d+) requests in", output)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return {
        "requests": int(total.group(1)) if total else 0,
        "requests_per_s": round(float(rps.group(1)), 1),
        "latency_ms": {f"p{k}": _ms(v) for k, v in pct.items() if k in ("50", "99")},
        "errors": (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, socket.groups())) if socket else 0),
    }


class PeakMemory:
    """The server's largest resident memory (its workers included), sampled every 0.2 s."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, rss_mb(self.pid))
            except OSError:
                return
            self._stop.wait(0.2)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children so far (the workers of ``--workers N``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    for child in child_pids(pid):
        with contextlib.suppress(OSError):  # ended meanwhile
            total += cpu_seconds(child)
    return total


def settle(pid: int, timeout: float = 180.0) -> None:
    """Wait until the server idles: with several workers /readyz answers as soon as one of them is
    ready, while the others are still loading (and would take the cores from the first runs)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(1.0)
        if cpu_seconds(pid) - before < 0.1:
            return


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if not found:
        raise QAError("wrk is not installed: `apt-get install wrk` (make bench installs it), or run "
                      "`qa bench --no-http`")
    return found


# Repeated questions are measured once the result cache holds the question stream: warm-up rounds of
# WARM_SECONDS until the rate stops rising (a fixed 40 s left some questions uncached when the
# machine ran slow, and their searches queued behind each other: a p99 of 645 ms at 296 requests/s
# in one run, 47 ms at 571 in the next).
WARM_SECONDS = 20
WARM_ROUNDS = 8


def warm_up(wrk: str, script: Path, paths: Path, base: str, repeated: bool) -> int:
    """Warm every worker; for ``repeated``, until the cache is full. Returns the seconds spent."""
    if not repeated:
        subprocess.run([wrk, "-t1", "-c2", "-d2s", "-s", str(script), base], env={"QA_BENCH_PATHS": str(paths)},
                       capture_output=True, check=False)
        return 2
    previous, seconds = 0.0, 0
    while seconds < WARM_ROUNDS * WARM_SECONDS:
        done = subprocess.run([wrk, "-t2", "-c16", f"-d{WARM_SECONDS}s", "-s", str(script), base],
                              env={"QA_BENCH_PATHS": str(paths)}, capture_output=True, text=True, check=False)
        seconds += WARM_SECONDS
        rate = parse_wrk(done.stdout)["requests_per_s"] if done.returncode == 0 else 0.0
        if previous and rate < 1.1 * previous:  # no longer rising: the stream is served from the cache
            break
        previous = rate
    return seconds


def load_test(env: dict[str, str], questions: list[str], work: Path, workers: int,
              concurrencies: tuple[int, ...] = (1, 16, 64), seconds: int = 10, repeated: bool = False
              ) -> dict[str, Any]:
    """Start ``qa serve --workers N`` and run wrk at each concurrency against /v1/search.

    By default the result cache is off, so every request is searched (the figure the floor
    bounds). ``repeated``: the cache is on, as served, and warmed by rounds (``warm_up``) of the same
    question stream first, as at a peak when residents ask the same questions again and again.
    """
    env = {**env, "QA_SEARCH_CACHE": "4096" if repeated else "0"}
    wrk = wrk_binary()
    work.mkdir(parents=True, exist_ok=True)
    paths = work / "paths.txt"
    # Only questions the API accepts: the gold set's empty and punctuation-only ones rightly get 422,
    # and wrk counts every non-2xx as an error.
    accepted = [q for q in questions if question_problem(q, MAX_QUERY_CHARS) is None]
    paths.write_text("".join(f"/v1/search?k=5&q={quote(q)}\n" for q in accepted), encoding="utf-8")
    script = work / "queries.lua"
    script.write_text(LUA, encoding="utf-8")
    started = time.perf_counter()
    server, base = start_server({**env, "QA_WORKERS": str(workers)}, work / f"serve-{workers}.log")
    ready = time.perf_counter() - started
    settle(server.pid)
    runs: dict[str, Any] = {}
    try:
        with PeakMemory(server.pid) as memory:
            for concurrency in concurrencies:
                threads = min(2, concurrency)
                command = [wrk, f"-t{threads}", f"-c{concurrency}", f"-d{seconds}s", "--latency", "--timeout", "10s",
                           "-s", str(script), base]
                warmed = warm_up(wrk, script, paths, base, repeated)
                cpu = cpu_seconds(server.pid)
                done = subprocess.run(command, env={"QA_BENCH_PATHS": str(paths)}, capture_output=True, text=True,
                                      check=False)
                cpu = cpu_seconds(server.pid) - cpu
                if done.returncode != 0:
                    raise QAError(f"wrk failed: {done.stderr[-1000:]}")
                run = parse_wrk(done.stdout)
                run["server_cpu_ms_per_request"] = round(1000 * cpu / max(run["requests"], 1), 2)
                runs[f"c{concurrency}"] = {"concurrency": concurrency, "warmed_s": warmed, **run}
        return {"workers": workers, "repeated": repeated, "ready_s": round(ready, 1),
                "peak_rss_mb": round(memory.peak, 1), "runs": runs}
    finally:
        stop_server(server)
