"""Index builds on disk: write a new build folder, swap the current pointer, load and check.

Layout::

    index/CURRENT                 name of the build in use (replaced atomically)
    index/builds/<name>/          manifest.json, dense.faiss, phrasings.npy, bm25/, entries.jsonl
                                  (with entry_columns.json: every entry's id, category, lapse date),
                                  policies.json (with the entries citing each), packs.json, cases.json, dict/,
                                  spelling.json (corpus words' syllables, for corrections)
    index/cache/                  embeddings and tokens of the last build's texts, so a rebuild
                                  after a small edit embeds and tokenises only what changed

A build is written to a fresh folder and only then made current, so a crash
mid-build leaves the previous index serving. The manifest records the SHA-256 of every
file, checked at load, so a damaged file is refused rather than served. Nothing is pickled.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

import qa
from qa.build_cache import (
    CHILD_TOKENIZE_MIN,
    BuildHelper,
    EmbeddingCache,
    TokenCache,
    dictionary_digest,
)
from qa.corpus import Corpus, Entry, corpus_sha256, lapses_on, load_corpus
from qa.dense import EXACT, EXACT_MAX_VECTORS, NPROBE, build_dense, prepare
from qa.encoder import DEFAULT_MODEL, single_threaded
from qa.entry_table import COLUMNS, EntryTable, column_values
from qa.errors import CorpusInvalid, IndexCorrupt, IndexMismatch, IndexMissing
from qa.lexical import LexicalIndex
from qa.spelling import FILE as SPELLING
from qa.spelling import Speller, write_spelling
from qa.text import Tokenizer, Vocabulary, normalise

if TYPE_CHECKING:
    from qa.encoder import Encoder

log = logging.getLogger(__name__)

# Bump when the files or the tokenisation change: older builds are then rebuilt, not misread.
INDEX_FORMAT = 9
# An answer's vector is of its first characters: the direct reply and its main condition. Embedding
# cost grows with length and answers are 12x longer than phrasings (median 181 characters); on the
# gold set 100 characters scored as the whole answer (hit@1 0.8670 vs 0.8661, false answers 0.050 vs
# 0.052) and cut the cold build 52 -> 44 s. BM25 over answers still reads the whole answer.
ANSWER_VECTOR_CHARS = 100
FILES = ("manifest.json", "dense.faiss", "phrasings.npy", "answers.npy", "entries.jsonl", COLUMNS, "categories.json",
         "policies.json", "packs.json", "cases.json", "bm25/idf.json", "bm25_answers/idf.json", SPELLING)
KEEP_BUILDS = 3


@dataclass(frozen=True)
class Manifest:
    format: int
    qa_version: str
    model: str
    dim: int
    entries: int
    vectors: int
    corpus_sha256: str
    built_at: str
    build_seconds: float
    index_type: str
    corpus_dir: str = ""  # the corpus folder it was built from (checked against when it still exists)
    embedded: int = 0  # texts embedded by this build
    embeddings_reused: int = 0  # texts whose vectors came from the cache
    files: dict[str, str] = field(default_factory=dict)  # path in the build -> SHA-256

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        path = folder / "manifest.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        except FileNotFoundError as exc:
            raise IndexCorrupt(f"{path} is missing: run `qa build` to rebuild the index") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise IndexCorrupt(f"{path} is unreadable ({exc}): run `qa build` to rebuild the index") from exc


def current_build(index_dir: Path) -> Path | None:
    """The folder of the build in use, or None when nothing has been built."""
    pointer = index_dir / "CURRENT"
    if not pointer.exists():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    return index_dir / "builds" / name if name else None


def resolve_index(index_dir: Path) -> Path:
    """A build folder from a path that is either an index root (with CURRENT) or a build folder."""
    if (index_dir / "manifest.json").exists():
        return index_dir
    build = current_build(index_dir)
    if build is None:
        raise IndexMissing(f"no index in {index_dir}: run `qa build` first")
    return build


def _set_current(index_dir: Path, name: str) -> None:
    tmp = index_dir / f"CURRENT.tmp{os.getpid()}"
    tmp.write_text(name + "\n", encoding="utf-8")
    os.replace(tmp, index_dir / "CURRENT")


def file_digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file of a build except the manifest, by path inside the build."""
    digests = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "manifest.json"):
        with path.open("rb") as f:
            digests[path.relative_to(folder).as_posix()] = hashlib.file_digest(f, "sha256").hexdigest()
    return digests


def _clear_dead_partials(builds: Path) -> None:
    """Remove half-written builds of processes that died (killed mid-build); a live build's stays."""
    for partial in builds.glob(".*.partial"):
        try:
            pid = int(partial.name.rsplit(".", 1)[0].rsplit("-", 1)[1])
            os.kill(pid, 0)
        except (ValueError, IndexError, ProcessLookupError):
            shutil.rmtree(partial, ignore_errors=True)
        except PermissionError:  # another user's live process
            pass


def _prune(index_dir: Path, keep: str) -> None:
    finished = [p for p in (index_dir / "builds").iterdir() if not p.name.startswith(".")]  # not partials
    builds = sorted(finished, key=lambda p: p.stat().st_mtime, reverse=True)
    for old in builds[KEEP_BUILDS:]:
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)


def phrasing_texts(entries: list[Entry]) -> tuple[list[str], np.ndarray]:
    """Normalised text of every phrasing and the entry row each belongs to."""
    texts: list[str] = []
    owners: list[int] = []
    for row, entry in enumerate(entries):
        for phrasing in entry.phrasings:
            texts.append(normalise(phrasing))
            owners.append(row)
    return texts, np.asarray(owners, dtype=np.int32)


def entry_document(entry: Entry, corpus: Corpus) -> dict[str, Any]:
    """What the service needs of an entry at answer time, policies resolved."""
    record = dict(vars(entry))  # flat fields: a shallow copy is enough, and far faster than asdict
    record["sources"] = [dict(vars(corpus.policies[p])) for p in entry.policy_ids if p in corpus.policies]
    record["lapses_on"] = lapses_on(entry, corpus.policies)
    return record


def policy_registry(corpus: Corpus) -> list[dict[str, Any]]:
    """Every policy with the answerable entries that cite it (the policy page lists them)."""
    citing: dict[str, list[str]] = {pid: [] for pid in corpus.policies}
    for entry in corpus.answerable():
        for pid in entry.policy_ids:
            citing[pid].append(entry.id)
    return [{**asdict(p), "cited_by": citing[p.id]} for p in corpus.policies.values()]


def case_groups(corpus: Corpus, indexed: set[str]) -> list[dict[str, Any]]:
    """The case groups as the service reads them: only cases whose entry is answered, and only
    groups that still have two of them (a lapsed entry is not offered as an option)."""
    groups = []
    for group in corpus.cases:
        cases = [asdict(c) for c in group.cases if c.entry in indexed]
        if len(cases) >= 2:
            groups.append({"id": group.id, "ask": group.ask, "cases": cases})
    return groups


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def is_up_to_date(index_dir: Path, corpus_dir: Path, model: str,
                  exact_max_vectors: int = EXACT_MAX_VECTORS) -> bool:
    """True when the current build was made from this corpus with this model and format, and
    its dense index is the kind ``exact_max_vectors`` asks for at its size."""
    build = current_build(index_dir)
    if build is None:
        return False
    try:
        manifest = Manifest.read(build)
    except IndexCorrupt:
        return False
    return (
        manifest.format == INDEX_FORMAT
        and manifest.model == model
        and manifest.corpus_sha256 == corpus_sha256(corpus_dir)
        and all((build / f).exists() for f in FILES)
        and (manifest.index_type == EXACT) == (manifest.vectors <= exact_max_vectors)
    )


def build_index(
    corpus_dir: Path,
    index_dir: Path,
    encoder: Encoder,
    model_name: str,
    progress: Callable[[int, int], None] | None = None,
    require_policies: bool | None = None,
    cache_dir: Path | None = None,
    exact_max_vectors: int = EXACT_MAX_VECTORS,
    use_helper: bool = True,
) -> Path:
    """Build an index from a corpus folder into a new build folder and make it current.

    With the default model a helper process shares the work (``BuildHelper``); ``use_helper=False``
    does it all in this process (the same files, more slowly)."""
    import faiss

    from qa.encoder import encode

    started = time.perf_counter()
    # The helper starts first: it loads jieba and the encoder while this process reads the corpus.
    helper = BuildHelper(model_name, corpus_dir / "dict") if use_helper and model_name == DEFAULT_MODEL else None
    try:
        corpus = load_corpus(corpus_dir, require_policies=require_policies)
        sha = corpus.sha256()
        entries = corpus.answerable()
        if not entries:
            raise CorpusInvalid([f"{corpus_dir}: no published entries to index"])
        texts, owners = phrasing_texts(entries)
        answer_texts = [normalise(e.answer) for e in entries]
        answer_heads = [t[:ANSWER_VECTOR_CHARS] for t in answer_texts]
        cache_dir = cache_dir or index_dir / "cache"
        embeddings = EmbeddingCache(cache_dir, model_name)
        missing = embeddings.missing_texts(texts + answer_heads)
        tokenizer = Tokenizer(Vocabulary.load(corpus_dir / "dict"))
        tokens = TokenCache(cache_dir, dictionary_digest(corpus_dir / "dict"))
        untokenized = tokens.missing_texts(texts + answer_texts)
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress(done, len(missing))

        large = len(untokenized) + len(missing) >= CHILD_TOKENIZE_MIN
        if helper is not None and not large and (missing or untokenized):
            # A small edit: the warm helper embeds and tokenises its few texts; this process then
            # never loads jieba's dictionary or the encoder.
            # bm25s's import (0.3 s) runs while this thread waits for the helper, not after.
            threading.Thread(target=importlib.import_module, args=("bm25s",), daemon=True).start()
            try:
                vectors_found, encoded = helper.small_edit(missing, untokenized)
                if missing:
                    embeddings.add(missing, vectors_found)
                    advance(len(missing))
                tokens.add(untokenized, encoded)
            except Exception as exc:  # the helper died (memory, a signal): this process does it
                log.warning("the build's helper process failed (%s); embedding and tokenising here", exc)
        elif helper is not None and large:
            helper.tokenize(untokenized)
            if missing:
                with single_threaded(encoder):
                    shared = helper.embed(missing, lambda batch: encode(encoder, batch), advance)
                embeddings.add(list(shared), np.stack(list(shared.values())))
    finally:
        if helper is not None:
            helper.close()
    # Whatever is still missing (no helper, or it failed) is computed here.
    vectors = embeddings.embed(texts, lambda batch: encode(encoder, batch), advance)
    answer_vectors = embeddings.embed(answer_heads, lambda batch: encode(encoder, batch), advance)
    # FAISS releases the GIL: the dense index trains on the other core while this thread builds
    # BM25 and writes the rest (3 s of a cold build at 7,800 entries).
    last = current_build(index_dir)
    dense_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dense")
    dense_job = dense_pool.submit(build_dense, vectors, exact_max_vectors,
                                  previous=last / "dense.faiss" if last else None)
    dense_pool.shutdown(wait=False)
    if helper is not None and large:  # done by now, or finishing (a helper given work finishes it)
        found = helper.tokens()
        if found is not None:
            tokens.add(untokenized, found)
    lexical = LexicalIndex.from_ids(tokens.ids(texts, tokenizer.tokens), tokens.vocab.tokens)
    answer_lexical = LexicalIndex.from_ids(tokens.ids(answer_texts, tokenizer.tokens), tokens.vocab.tokens)
    dim = int(vectors.shape[1])

    name = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + f"-{sha[:8]}-{os.getpid()}"
    builds = index_dir / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    _clear_dead_partials(builds)
    tmp = builds / f".{name}.partial"
    tmp.mkdir()
    np.save(tmp / "phrasings.npy", owners, allow_pickle=False)
    lexical.save(tmp / "bm25")
    np.save(tmp / "answers.npy", answer_vectors, allow_pickle=False)
    answer_lexical.save(tmp / "bm25_answers")
    write_spelling(tmp, lexical.idf, lexical.n_docs, tokenizer.vocabulary, previous=last)
    documents = [entry_document(e, corpus) for e in entries]
    (tmp / "entries.jsonl").write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in documents))
    (tmp / COLUMNS).write_bytes(orjson.dumps(column_values(documents)))
    _write_json(tmp / "categories.json", [asdict(c) for c in corpus.categories])
    _write_json(tmp / "policies.json", policy_registry(corpus))
    _write_json(tmp / "packs.json", [asdict(p) for p in corpus.packs])
    _write_json(tmp / "cases.json", case_groups(corpus, {e.id for e in entries}))
    # The dictionaries travel with the build so a shipped index tokenises as it was built.
    shutil.copytree(corpus_dir / "dict", tmp / "dict") if (corpus_dir / "dict").is_dir() else (tmp / "dict").mkdir()
    dense, index_type = dense_job.result()
    faiss.write_index(dense, str(tmp / "dense.faiss"))
    manifest = Manifest(
        format=INDEX_FORMAT, qa_version=qa.__version__, model=model_name, dim=dim, entries=len(entries),
        vectors=len(texts), corpus_sha256=sha, built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        build_seconds=round(time.perf_counter() - started, 2), index_type=index_type,
        corpus_dir=str(Path(corpus_dir).resolve()),
        embedded=len(missing), embeddings_reused=len(texts) + len(answer_heads) - len(missing),
        files=file_digests(tmp),
    )
    (tmp / "manifest.json").write_text(json.dumps(asdict(manifest), ensure_ascii=False, indent=1), encoding="utf-8")
    final = builds / name
    os.replace(tmp, final)
    embeddings.save()
    tokens.save()
    _set_current(index_dir, name)
    _prune(index_dir, keep=name)
    log.info("built index %s: %d entries, %d phrasings", final, len(entries), len(texts))
    return final


@dataclass
class LoadedIndex:
    """A build folder in memory, read-only."""

    folder: Path
    manifest: Manifest
    dense: Any  # faiss.Index
    owners: np.ndarray  # phrasing row -> entry row
    lexical: LexicalIndex
    answer_vectors: np.ndarray  # entry row -> unit vector of its answer
    answer_lexical: LexicalIndex  # BM25 over answers, one document per entry
    entries: EntryTable  # entry row -> the entry as answered (parsed when read)
    categories: list[dict[str, Any]]
    tokenizer: Tokenizer
    policies: dict[str, dict[str, Any]]  # id -> policy with "cited_by" entry ids
    packs: list[dict[str, Any]]
    speller: Speller
    cases: list[dict[str, Any]]  # case groups: {"id", "ask", "cases": [{"entry", "words"}]}

    @property
    def by_id(self) -> Mapping[str, dict[str, Any]]:
        return self._by_id

    def __post_init__(self) -> None:
        self._by_id = self.entries.by_id()
        first = np.full(len(self.entries) + 1, len(self.owners), dtype=np.int64)
        first[:-1] = np.searchsorted(self.owners, np.arange(len(self.entries)), side="left")
        self.first_row = first  # phrasings of entry i are rows first_row[i]:first_row[i+1]
        self.case_groups_of: dict[str, list[dict[str, Any]]] = {}  # entry id -> the case groups it is in
        for group in self.cases:
            for case in group["cases"]:
                self.case_groups_of.setdefault(case["entry"], []).append(group)


def load_index(index_dir: Path, model: str, corpus_dir: Path | None = None, nprobe: int = NPROBE) -> LoadedIndex:
    """Load the current build (or a build folder) and check it against the settings.

    Raises ``IndexMissing``, ``IndexCorrupt`` or ``IndexMismatch`` naming the command that fixes it.
    """
    import faiss

    folder = resolve_index(index_dir)
    manifest = Manifest.read(folder)
    if manifest.format != INDEX_FORMAT:
        raise IndexMismatch(f"index format {manifest.format}, this qa reads {INDEX_FORMAT}: run `qa build`")
    if manifest.model != model:
        raise IndexMismatch(
            f"index built with model {manifest.model!r}, settings say {model!r}: run `qa build` "
            f"(or set QA_MODEL={manifest.model})"
        )
    # A shipped index may run without its corpus folder; when the corpus is there, it must match.
    has_corpus = corpus_dir is not None and (corpus_dir / "categories.jsonl").exists()
    if has_corpus and corpus_sha256(corpus_dir) != manifest.corpus_sha256:  # type: ignore[arg-type]
        raise IndexMismatch(f"corpus {corpus_dir} changed since the index was built: run `qa build`")
    missing = [f for f in FILES if not (folder / f).exists()]
    if missing:
        raise IndexCorrupt(f"index {folder} lacks {', '.join(missing)}: run `qa build`")
    found = file_digests(folder)
    damaged = sorted(f for f, digest in manifest.files.items() if found.get(f) != digest)
    if damaged or not manifest.files:
        raise IndexCorrupt(f"index {folder} is damaged: {', '.join(damaged) or 'the manifest'} changed since the "
                           f"build (checksum mismatch): run `qa build`")
    try:
        dense = prepare(faiss.read_index(str(folder / "dense.faiss")), nprobe)
        owners = np.load(folder / "phrasings.npy", allow_pickle=False)
        lexical = LexicalIndex.load(folder / "bm25")
        # Memory-mapped likewise (a search reads its candidates' rows), as a plain array view.
        answer_vectors = np.load(folder / "answers.npy", mmap_mode="r").view(np.ndarray)
        answer_lexical = LexicalIndex.load(folder / "bm25_answers")
        entries = EntryTable(folder / "entries.jsonl", folder / COLUMNS)
        categories = json.loads((folder / "categories.json").read_text(encoding="utf-8"))
        policies = {p["id"]: p for p in json.loads((folder / "policies.json").read_text(encoding="utf-8"))}
        packs = json.loads((folder / "packs.json").read_text(encoding="utf-8"))
        cases = json.loads((folder / "cases.json").read_text(encoding="utf-8"))
        speller = Speller.load(folder)
    except Exception as exc:  # faiss/numpy/json each raise their own types for a damaged file
        raise IndexCorrupt(f"index {folder} is damaged ({type(exc).__name__}: {exc}): run `qa build`") from exc
    counts = (dense.ntotal, len(owners), lexical.n_docs, manifest.vectors)
    answers_ok = answer_vectors.shape == (manifest.entries, manifest.dim) and answer_lexical.n_docs == manifest.entries
    entries_ok = len(entries) == entries.lines == manifest.entries
    if len(set(counts)) != 1 or not entries_ok or dense.d != manifest.dim or not answers_ok:
        raise IndexCorrupt(f"index {folder} is inconsistent (vectors {counts}, entries {len(entries)} vs "
                           f"{manifest.entries}): run `qa build`")
    tokenizer = Tokenizer(Vocabulary.load(folder / "dict"))
    return LoadedIndex(folder, manifest, dense, owners, lexical, answer_vectors, answer_lexical, entries, categories,
                       tokenizer, policies, packs, speller, cases)
