"""Index build, atomic swap, round-trip and the checks made when loading."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.config import Settings
from qa.corpus import corpus_sha256
from qa.errors import IndexCorrupt, IndexMismatch, IndexMissing
from qa.index import Manifest, build_index, current_build, is_up_to_date, load_index
from qa.lexical import LexicalIndex


def test_manifest_describes_the_build(built_index: Path, settings: Settings) -> None:
    manifest = Manifest.read(built_index)
    assert manifest.model == "usem3" and manifest.dim == 512
    assert manifest.corpus_sha256 == corpus_sha256(settings.corpus_dir)
    assert manifest.vectors > manifest.entries > 100
    assert current_build(settings.index_dir) == built_index
    for name in ("manifest.json", "dense.faiss", "phrasings.npy", "entries.jsonl", "bm25/idf.json"):
        assert (built_index / name).exists()
    assert not list(built_index.rglob("*.pkl")) and not list(built_index.rglob("*.pickle"))


def test_index_round_trips_with_sources(built_index: Path, settings: Settings) -> None:
    index = load_index(settings.index_dir, "usem3", settings.corpus_dir)
    assert index.folder == built_index
    assert len(index.entries) == index.manifest.entries
    entry = index.entries[0]
    assert entry["sources"] and entry["sources"][0]["title"] and entry["sources"][0]["url"].startswith("http")


def test_loading_with_another_model_names_the_fix(built_index: Path, settings: Settings) -> None:
    with pytest.raises(IndexMismatch, match=r"built with model 'usem3', settings say 'other-model': run `qa build`"):
        load_index(settings.index_dir, "other-model")


def test_changed_corpus_is_detected_and_missing_index_named(small_corpus: Path, encoder, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    with pytest.raises(IndexMissing, match="run `qa build`"):
        load_index(index_dir, "usem3")
    build_index(small_corpus, index_dir, encoder, "usem3")
    assert is_up_to_date(index_dir, small_corpus, "usem3")
    with (small_corpus / "dict" / "synonyms.txt").open("a", encoding="utf-8") as f:
        f.write("公积金贷款 公贷\n")
    assert not is_up_to_date(index_dir, small_corpus, "usem3")
    with pytest.raises(IndexMismatch, match="changed since the index was built: run `qa build`"):
        load_index(index_dir, "usem3", small_corpus)


def test_damaged_files_are_refused(small_corpus: Path, encoder, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    folder = build_index(small_corpus, index_dir, encoder, "usem3")
    dense = folder / "dense.faiss"
    dense.write_bytes(dense.read_bytes()[:1000])
    with pytest.raises(IndexCorrupt, match="run `qa build`"):
        load_index(index_dir, "usem3")
    (folder / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexCorrupt, match="manifest.json is unreadable"):
        load_index(index_dir, "usem3")


def test_a_build_that_dies_leaves_the_previous_index_current(
    small_corpus: Path, encoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index_dir = tmp_path / "index"
    first = build_index(small_corpus, index_dir, encoder, "usem3")
    path = small_corpus / "entries" / "gjj.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[0])
    record["answer"] += "（已更新）"
    path.write_text("\n".join([json.dumps(record, ensure_ascii=False), *lines[1:]]) + "\n", encoding="utf-8")
    def die(*args: object, **kwargs: object) -> None:
        raise RuntimeError("killed while writing the build")

    # The dense vectors are already written when the BM25 arrays are saved: die there.
    with monkeypatch.context() as patch:
        patch.setattr(LexicalIndex, "save", die)
        with pytest.raises(RuntimeError):
            build_index(small_corpus, index_dir, encoder, "usem3")
    assert current_build(index_dir) == first
    assert load_index(index_dir, "usem3").folder == first
    second = build_index(small_corpus, index_dir, encoder, "usem3")
    assert second != first and current_build(index_dir) == second


def test_a_small_edit_is_built_the_same_with_or_without_its_helper_process(
    small_corpus: Path, encoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The helper embeds and tokenises an edit's new texts; if it dies, the build does them itself."""
    from concurrent.futures.process import BrokenProcessPool

    from qa.build_cache import BuildHelper

    first = build_index(small_corpus, tmp_path / "index", encoder, "usem3")
    shutil.copytree(tmp_path / "index", tmp_path / "broken")
    path = small_corpus / "entries" / "gjj.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[0])
    record["answer"] = "（2026年起）" + record["answer"]
    record["alternates"] = [*record.get("alternates", []), "公积金租房提取新规定"]
    path.write_text("\n".join([json.dumps(record, ensure_ascii=False), *lines[1:]]) + "\n", encoding="utf-8")
    helped = build_index(small_corpus, tmp_path / "index", encoder, "usem3")

    def dies(*_: object) -> None:
        raise BrokenProcessPool("A child process terminated abruptly")

    with monkeypatch.context() as patch:
        patch.setattr(BuildHelper, "small_edit", dies)
        alone = build_index(small_corpus, tmp_path / "broken", encoder, "usem3")
    a, b = (json.loads((folder / "manifest.json").read_text(encoding="utf-8")) for folder in (helped, alone))
    assert helped != first and a["embedded"] == b["embedded"] == 2
    for name in ("bm25/data.csc.index.npy", "bm25/vocab.index.json", "bm25_answers/data.csc.index.npy",
                 "entries.jsonl", "entry_columns.json", "spelling.json"):
        assert a["files"][name] == b["files"][name], name
    helped_index, alone_index = load_index(tmp_path / "index", "usem3"), load_index(tmp_path / "broken", "usem3")
    x, y = (i.dense.reconstruct_n(0, i.dense.ntotal) for i in (helped_index, alone_index))
    assert float(np.min(np.sum(x * y, axis=1))) > 0.9999
    assert "（2026年起）" in helped_index.by_id[record["id"]]["answer"]


def test_lexical_index_scores_exactly_as_stock_bm25s(searcher) -> None:  # type: ignore[no-untyped-def]
    """The vectorised BM25 build gives the same scores as bm25s's own (Lucene variant)."""
    import bm25s

    from qa import lexical
    from qa.lexical import K1, B, LexicalIndex

    tokenizer = searcher.index.tokenizer
    docs = [tokenizer.tokens(e["answer"]) for e in searcher.index.entries[:600]] + [[]]
    ours = LexicalIndex.build(docs)
    stock = bm25s.BM25(method="lucene", k1=K1, b=B)
    stock.index([d or [""] for d in docs], show_progress=False)
    for question in ("公积金怎么提取", "新生儿医保", "个体户 税", "失业金领取条件"):
        tokens = [t for t in tokenizer.tokens(question) if t in stock.vocab_dict]
        assert tokens
        assert np.allclose(ours._bm25.get_scores(tokens), stock.get_scores(tokens), atol=1e-5)
        assert np.allclose(ours.raw_scores(tokens), stock.get_scores(tokens), atol=1e-5)  # the fast path
        assert np.allclose(ours.raw_scores(tokens + tokens[:1]), stock.get_scores(tokens + tokens[:1]), atol=1e-5)
        # Some documents only (the search's candidates): the same scores, found by binary search,
        # for documents the tokens miss, the empty one (last), and a question with an unknown word.
        every = ours.scores(tokens + ["从未见过的词"])
        some = np.array([len(docs) - 1, 0, *np.argsort(-every)[:5], *range(100, 600, 37)])
        for scan in (0, 10**9):  # binary search in each token's postings (a large index), or a pass
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(lexical, "SCAN_POSTINGS_PER_TOKEN", scan)
                assert np.array_equal(ours.scores_of(tokens + ["从未见过的词"], some), every[some]), scan


def test_a_postings_budget_reads_the_rarest_tokens_first(searcher) -> None:  # type: ignore[no-untyped-def]
    """On a large index a query reads at most ``postings_budget`` postings: its rarest tokens."""
    lexical = searcher.index.lexical
    postings = lexical._bm25.scores["indptr"]
    vocab = lexical._bm25.vocab_dict
    tokens = [t for t in searcher.index.tokenizer.tokens("怎么办理住房公积金提取") if t in vocab]
    length = {t: int(postings[vocab[t] + 1] - postings[vocab[t]]) for t in tokens}
    rarest = sorted(tokens, key=length.__getitem__)
    kept = rarest[:3]
    budget = sum(length[t] for t in kept)
    assert budget < sum(length.values())
    assert np.allclose(lexical.raw_scores(tokens, budget), lexical.raw_scores(kept))
    assert np.allclose(lexical.raw_scores(tokens, 10**9), lexical.raw_scores(tokens))  # under it: every token


def test_a_damaged_build_cache_is_ignored_and_rebuilt(  # type: ignore[no-untyped-def]
        small_corpus: Path, tmp_path: Path, encoder) -> None:
    index = tmp_path / "index"
    build_index(small_corpus, index, encoder, "usem3")
    for cached in (index / "cache").glob("*.npz"):
        cached.write_bytes(cached.read_bytes()[:1000])  # truncated, as by a full disk
    rebuilt = build_index(small_corpus, index, encoder, "usem3")
    manifest = Manifest.read(rebuilt)
    assert manifest.embeddings_reused == 0 and manifest.embedded == manifest.vectors + manifest.entries
    assert load_index(rebuilt, "usem3").dense.ntotal == manifest.vectors
