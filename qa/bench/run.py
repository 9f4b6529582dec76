"""``qa bench``: every figure of the benchmark in one run, written to ``eval/bench/``.

Work files (synthetic corpora, their indexes and embedding caches, the txtai environment) live
in ``var/bench/`` and are reused by the next run: a synthetic corpus is deterministic, and its
index is rebuilt only when missing. Cold-build figures always start from an empty folder.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from qa.bench import builds, http, inprocess, peers
from qa.bench.report import markdown
from qa.config import REPO_ROOT, Settings
from qa.dense import EXACT, build_dense, index_type, prepare
from qa.encoder import load_encoder
from qa.evaluation.goldset import GoldQuery, load_gold
from qa.index import LoadedIndex, is_up_to_date
from qa.search import Searcher
from qa.soak import rss_mb, start_server, stop_server
from qa.synth import write_synthetic_corpus

log = logging.getLogger(__name__)

SIZES = (7_800, 100_000)
MILLION = 1_000_000


def machine() -> dict[str, Any]:
    import faiss

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next((int(line.split()[1]) // 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), 0)
    return {"cores": os.cpu_count(), "cpu": cpu, "memory_mb": mem, "python": platform.python_version(),
            "faiss": faiss.__version__, "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


def synthetic_index(settings: Settings, work: Path, n: int) -> tuple[Path, Path, float | None]:
    """The synthetic corpus of ``n`` entries and its index (made when missing); the build's seconds."""
    corpus = work / f"synth-{n}"
    if not (corpus / "README.md").exists():
        import shutil

        shutil.rmtree(corpus, ignore_errors=True)
        write_synthetic_corpus(settings.corpus_dir, corpus, n)
    index = work / f"index-{n}"
    seconds = None
    if not is_up_to_date(index, corpus, settings.model, settings.exact_max_vectors):
        seconds, _ = builds.qa_build(corpus, index)
    return corpus, index, seconds


def cached_vectors(index: LoadedIndex, model: str, chunk: int = 200_000) -> Iterator[np.ndarray]:
    """The float vectors of every phrasing in row order, in chunks, from the build's embedding cache."""
    from qa.build_cache import EmbeddingCache
    from qa.text import normalise

    texts = [normalise(t) for t in peers.phrasings(index)[0]]
    cache = EmbeddingCache(index.folder.parent.parent / "cache", model)
    for start in range(0, len(texts), chunk):
        yield cache.vectors(texts[start:start + chunk])


def twin(searcher: Searcher, exact: bool) -> Searcher:
    """The same index with the other kind of dense index (exact ↔ IVF-SQ8) over the same vectors."""
    import faiss

    chunks = cached_vectors(searcher.index, searcher.settings.model)
    if exact:  # added chunk by chunk: at a million entries the vectors alone are 8 GB
        dense = faiss.IndexFlatIP(searcher.index.manifest.dim)
        for chunk in chunks:
            dense.add(chunk)
    else:
        dense, _ = build_dense(np.concatenate(list(chunks)), exact_max_vectors=0)
    dense = prepare(dense, searcher.settings.nprobe)
    manifest = replace(searcher.index.manifest, index_type=index_type(dense))
    index = replace(searcher.index, dense=dense, manifest=manifest)
    return Searcher(index, searcher.encoder, searcher.settings)


def scale_point(settings: Settings, encoder: Any, queries: list[GoldQuery], work: Path, n: int) -> dict[str, Any]:
    """One synthetic size: the served index, its exact/approximate twin, and a server's memory."""
    corpus, index_dir, build_s = synthetic_index(settings, work, n)
    log.warning("bench: %d entries — searching", n)
    served = inprocess.searcher_for(index_dir, encoder, settings)
    point: dict[str, Any] = {"entries": n, "synthetic": True, "build_s": build_s,
                             "served": inprocess.search_figures(served, queries)}
    other = twin(served, exact=served.index.manifest.index_type != EXACT)
    point["other"] = inprocess.search_figures(other, queries, with_floor=False)
    exact, approx = (point["served"], point["other"]) if point["served"]["index_type"] == EXACT else \
        (point["other"], point["served"])
    point["approximate_recall5_loss"] = round(exact["recall@5"] - approx["recall@5"], 4)
    del served, other
    point["server"] = server_memory(settings, corpus, index_dir, queries, work / f"serve-{n}")
    return point


def server_memory(settings: Settings, corpus: Path, index: Path, queries: list[GoldQuery], work: Path
                  ) -> dict[str, Any]:
    """``qa serve`` on an index: seconds to ready, and resident memory after 200 searches."""
    import httpx

    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    server, base = start_server(builds.serve_env(corpus, index, work), work / "serve.log", ready_within=900)
    ready = time.perf_counter() - started
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            for query in queries[:200]:
                client.get("/v1/search", params={"q": query.query or "社保", "k": 5})
        return {"startup_to_ready_s": round(ready, 1), "rss_mb": round(rss_mb(server.pid), 1),
                "private_mb": round(rss_mb(server.pid, "RssAnon"), 1)}
    finally:
        stop_server(server, timeout=60)


def bench(out_dir: Path, work: Path, sizes: tuple[int, ...] = SIZES, do_http: bool = True, do_txtai: bool = True,
          settings: Settings | None = None) -> dict[str, Any]:
    from qa.cli import build as build_if_needed

    # In process, every question is searched afresh (the floor is one question's own work);
    # the HTTP runs measure repeats separately (``http.load_test``).
    settings = (settings or Settings()).model_copy(update={"search_cache": 0})
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    queries = load_gold(REPO_ROOT / "eval" / "gold")
    results: dict[str, Any] = {"machine": machine(), "started": datetime.now(UTC).isoformat(timespec="seconds"),
                               "gold_queries": len(queries), "settings": {
                                   "threads": settings.threads, "candidates": settings.candidates,
                                   "exact_max_vectors": settings.exact_max_vectors, "nprobe": settings.nprobe}}
    encoder = load_encoder(settings.model, settings.models_dir, threads=1)
    out_dir.mkdir(parents=True, exist_ok=True)

    def save() -> None:  # after each phase: a failure late in a long run keeps what was measured
        results["seconds"] = round(time.perf_counter() - started, 1)
        (out_dir / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n",
                                              encoding="utf-8")

    log.warning("bench: bundled corpus — in-process search and peers")
    build_if_needed(settings)
    bundled = inprocess.searcher_for(settings.index_dir, encoder, settings)
    results["bundled"] = inprocess.search_figures(bundled, queries)
    results["peers"] = {"qa": {"name": "qa (hybrid, this project)", **{k: results["bundled"][k] for k in (
        "hit@1", "recall@5", "mrr@10", "latency_ms")}}}
    results["peers"]["bm25"] = peers.bm25_peer(bundled.index, queries)
    results["peers"]["dense"] = peers.dense_peer(bundled.index, encoder, queries)
    if do_txtai:
        try:
            results["peers"]["txtai"] = peers.txtai_peer(bundled.index, queries, work / "txtai-venv")
        except Exception as exc:  # a peer that cannot run is reported, not fatal to the other figures
            results["peers"]["txtai"] = {"name": "txtai", "error": str(exc)[-500:]}
    del bundled
    save()

    log.warning("bench: build figures")
    results["build"] = {"bundled": builds.build_figures(settings.corpus_dir, work / "build-bundled")}
    synth_7800, _, _ = synthetic_index(settings, work, 7_800)
    results["build"]["synthetic-7800"] = builds.build_figures(synth_7800, work / "build-7800")

    save()
    results["scale"] = []
    for n in sizes:
        results["scale"].append(scale_point(settings, encoder, queries, work, n))
        save()

    if do_http:  # the targets are set at 7,800 entries: the synthetic corpus of that size
        log.warning("bench: HTTP load test, 1 and 2 workers")
        synth_index = work / "index-7800"
        env = {**builds.serve_env(synth_7800, synth_index, work / "http"), "QA_LOG_FORMAT": "json"}
        texts = [q.query for q in queries]
        results["http"] = [http.load_test(env, texts, work / "http", workers) for workers in (1, 2)] + [
            http.load_test(env, texts, work / "http", workers, concurrencies=(16,), repeated=True)
            for workers in (1, 2)]
    save()
    (out_dir / "results.md").write_text(markdown(results), encoding="utf-8")
    return results
