"""Build figures as an editor sees them: ``qa build`` wall time cold and after editing 5 entries,
the index's size on disk, the time to load it, and ``qa serve`` from launch to ready."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from qa.soak import start_server, stop_server


def qa_build(corpus: Path, index: Path, env: dict[str, str] | None = None) -> tuple[float, dict[str, Any]]:
    """Run ``qa build`` as a user would; its wall time and the new build's manifest."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "qa", "build", "--corpus", str(corpus), "--index", str(index)],
                          env={**os.environ, **(env or {})}, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"qa build failed ({done.returncode}): {done.stderr[-2000:]}")
    current = (index / "CURRENT").read_text().strip()
    manifest = json.loads((index / "builds" / current / "manifest.json").read_text(encoding="utf-8"))
    return seconds, manifest


def serve_env(corpus: Path, index: Path, work: Path) -> dict[str, str]:
    """``qa serve`` settings for a benchmark: this corpus and index, no rate limits, a throw-away database."""
    return {"QA_CORPUS_DIR": str(corpus), "QA_INDEX_DIR": str(index), "QA_RATE_LIMIT_PER_MINUTE": "0",
            "QA_DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}"}


def folder_mb(folder: Path) -> float:
    return round(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20, 1)


def edit_entries(corpus: Path, count: int = 5) -> list[str]:
    """Change the answers of ``count`` entries in the first entries file, as an editor would (at the
    start, so that the answer's vector, of its first characters, is computed again too)."""
    path = sorted((corpus / "entries").glob("*.jsonl"))[0]
    lines = path.read_text(encoding="utf-8").splitlines()
    edited = []
    for number, line in enumerate(lines[:count]):
        record = json.loads(line)
        record["answer"] = "（本条已于基准测试中修改。）" + record["answer"]
        record["alternates"] = [*record["alternates"][:-1], record["alternates"][-1] + "呀"]
        lines[number] = json.dumps(record, ensure_ascii=False)
        edited.append(record["id"])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return edited


def build_figures(corpus: Path, work: Path) -> dict[str, Any]:
    """Cold build (empty cache), incremental build after editing 5 entries, size, load and start-up."""
    from qa.index import load_index

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    copy = work / "corpus"
    shutil.copytree(corpus, copy)
    index = work / "index"
    cold, manifest = qa_build(copy, index)
    texts = manifest["embedded"]
    edited = edit_entries(copy)
    incremental, again = qa_build(copy, index)
    folder = index / "builds" / (index / "CURRENT").read_text().strip()
    started = time.perf_counter()
    load_index(index, manifest["model"], copy)
    load = time.perf_counter() - started
    started = time.perf_counter()
    server, _ = start_server(serve_env(copy, index, work), work / "serve.log")
    startup = time.perf_counter() - started
    stop_server(server)
    return {
        "entries": manifest["entries"], "phrasings": manifest["vectors"], "index_type": manifest["index_type"],
        "cold_build_s": round(cold, 1), "texts_embedded": texts, "build_texts_per_s": round(texts / cold, 1),
        "incremental_build_s": round(incremental, 1), "incremental_edited": len(edited),
        "incremental_embedded": again["embedded"], "index_mb": folder_mb(folder),
        "load_s": round(load, 2), "startup_to_ready_s": round(startup, 1),
    }
