"""What a rebuild can reuse: embeddings and lexical tokens of texts seen before.

Embeddings are keyed by sha256(model id, normalised text) and tokens by sha256(dictionary
digest, normalised text), so editing a few entries re-embeds and re-tokenises only those.
Both live in ``<index>/cache/`` (.npz files, no pickles), are written atomically, and keep
only the texts of the last build, so they do not grow without bound.
A damaged cache is ignored (and rebuilt), never trusted.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from qa.lifecycle import follow_parent

log = logging.getLogger(__name__)

Encoded = tuple[list[str], np.ndarray, np.ndarray]  # texts' tokens: (distinct tokens, offsets, ids into them)


def _key(namespace: str, text: str) -> bytes:
    return hashlib.sha256(namespace.encode() + b"\0" + text.encode()).digest()[:16]


class EmbeddingCache:
    """Vectors of normalised texts for one model."""

    def __init__(self, folder: Path, model: str) -> None:
        self.path = folder / f"embeddings-{hashlib.sha256(model.encode()).hexdigest()[:12]}.npz"
        self.model = model
        self._rows: dict[bytes, np.ndarray] = {}
        self._used: dict[bytes, np.ndarray] = {}
        try:
            with np.load(self.path, allow_pickle=False) as data:
                keys, vectors = data["keys"], data["vectors"]
            self._rows = {k.tobytes(): vectors[i] for i, k in enumerate(keys)}
        except FileNotFoundError:
            pass
        except Exception as exc:  # a truncated or foreign file: start over
            log.warning("ignoring damaged embedding cache %s (%s)", self.path, exc)

    def missing_texts(self, texts: list[str]) -> list[str]:
        """The distinct texts the cache has no vector for."""
        return [t for t in dict.fromkeys(texts) if _key(self.model, t) not in self._rows]

    def add(self, texts: list[str], vectors: np.ndarray) -> None:
        """Vectors computed elsewhere (by a ``BuildHelper``)."""
        for text, vector in zip(texts, vectors, strict=True):
            self._rows[_key(self.model, text)] = vector

    def embed(self, texts: list[str], encode: Callable[[list[str]], np.ndarray],
              progress: Callable[[int], None] | None = None, batch: int = 512) -> np.ndarray:
        """Vectors for ``texts``: from the cache where present, else from ``encode`` in batches."""
        keys = [_key(self.model, t) for t in texts]
        first: dict[bytes, int] = {}  # a text repeated (answers shared by entries) is embedded once
        for i, k in enumerate(keys):
            if k not in self._rows:
                first.setdefault(k, i)
        missing = list(first.values())
        for start in range(0, len(missing), batch):
            chunk = missing[start : start + batch]
            for i, vector in zip(chunk, encode([texts[i] for i in chunk]), strict=True):
                self._rows[keys[i]] = vector
            if progress:
                progress(len(chunk))
        out = np.stack([self._rows[k] for k in keys]) if keys else np.zeros((0, 0), dtype=np.float32)
        self._used.update(zip(keys, out, strict=True))
        return out.astype(np.float32, copy=False)

    def vectors(self, texts: list[str]) -> np.ndarray:
        """Cached vectors of ``texts`` (KeyError for one not in the cache), without marking them used."""
        return np.stack([self._rows[_key(self.model, t)] for t in texts]).astype(np.float32, copy=False)

    def save(self) -> None:
        """Keep exactly the texts of this build."""
        if not self._used:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.stem}.{os.getpid()}.tmp.npz")
        # Raw bytes as uint8 rows: numpy's "S" strings would drop a key's trailing NUL bytes.
        keys = np.frombuffer(b"".join(self._used), dtype=np.uint8).reshape(-1, 16)
        np.savez(tmp, keys=keys, vectors=np.stack(list(self._used.values())).astype(np.float32))
        os.replace(tmp, self.path)


class TokenCache:
    """Lexical tokens of normalised texts for one set of dictionaries, stored as ids into a
    vocabulary kept with the cache, so a rebuild hands BM25 integer arrays, not millions of strings."""

    def __init__(self, folder: Path, dictionary_digest: str) -> None:
        from qa.lexical import TokenVocabulary

        self.path = folder / f"tokens-{dictionary_digest[:12]}.npz"
        self.digest = dictionary_digest
        self.vocab = TokenVocabulary()
        self._rows: dict[bytes, np.ndarray] = {}
        self._used: dict[bytes, np.ndarray] = {}
        try:
            with np.load(self.path, allow_pickle=False) as data:
                keys, offsets, ids = data["keys"], data["offsets"], data["ids"]
                size = int(data["vocab_size"])
                words = str(data["vocab"]).split("\x1f") if size else []
            if len(words) != size or (len(ids) and int(ids.max()) >= len(words)):
                raise ValueError("vocabulary and ids disagree")
            self.vocab = TokenVocabulary(words)
            self._rows = {k.tobytes(): ids[offsets[i] : offsets[i + 1]] for i, k in enumerate(keys)}
        except FileNotFoundError:
            pass
        except Exception as exc:  # a truncated or foreign file: start over
            log.warning("ignoring damaged token cache %s (%s)", self.path, exc)

    def missing_texts(self, texts: list[str]) -> list[str]:
        """The distinct texts the cache has no tokens for."""
        return [t for t in dict.fromkeys(texts) if _key(self.digest, t) not in self._rows]

    def add(self, texts: list[str], encoded: Encoded) -> None:
        """Tokens computed elsewhere (by a ``BuildHelper``), as ids into the helper's vocabulary."""
        words, offsets, ids = encoded
        if len(offsets) != len(texts) + 1:
            raise ValueError(f"{len(offsets) - 1} token lists for {len(texts)} texts")
        ours = self.vocab.encode(words)[ids]  # each distinct token looked up once
        for i, text in enumerate(texts):
            self._rows[_key(self.digest, text)] = ours[offsets[i]:offsets[i + 1]]

    def ids(self, texts: list[str], tokenize: Callable[[str], list[str]]) -> list[np.ndarray]:
        """Token ids of each text: from the cache where present, else from ``tokenize``."""
        out = []
        for text in texts:
            key = _key(self.digest, text)
            ids = self._rows.get(key)
            if ids is None:
                ids = self._rows[key] = self.vocab.encode(tokenize(text))
            self._used[key] = ids
            out.append(ids)
        return out

    def save(self) -> None:
        """Keep exactly the texts of this build (and the vocabulary, which only grows)."""
        if not self._used:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.stem}.{os.getpid()}.tmp.npz")
        arrays = list(self._used.values())
        offsets = np.concatenate([[0], np.cumsum([len(a) for a in arrays])]).astype(np.int64)
        np.savez(tmp, keys=np.frombuffer(b"".join(self._used), dtype=np.uint8).reshape(-1, 16), offsets=offsets,
                 ids=np.concatenate(arrays).astype(np.int32) if arrays else np.zeros(0, dtype=np.int32),
                 vocab=np.array("\x1f".join(self.vocab.tokens)), vocab_size=np.array(len(self.vocab.tokens)))
        os.replace(tmp, self.path)


CHILD_TOKENIZE_MIN = 2000  # from this many new texts, a build shares its embedding with the helper too
HELPER_BATCH = 256

_helper_encoder: Any = None
_helper_tokenizer: Any = None


def _warm(model: str, models_dir: str, dict_dir: str) -> None:
    """In the helper, first thing: load the tokeniser (jieba's dictionary, pypinyin) and the
    encoder, while the build's own process is still reading the corpus."""
    from qa.encoder import encode, load_encoder
    from qa.text import Tokenizer, Vocabulary

    global _helper_encoder, _helper_tokenizer
    _helper_tokenizer = Tokenizer(Vocabulary.load(Path(dict_dir)))
    _helper_tokenizer.tokens("住房公积金")
    _helper_encoder = load_encoder(model, Path(models_dir), threads=1)
    encode(_helper_encoder, ["住房公积金"])


def _tokenize(texts: list[str]) -> Encoded:
    """In the helper: each text's tokens as ids into a vocabulary of the helper's own. Three arrays
    cross the process boundary far faster than millions of strings, and the caller then maps
    only the distinct tokens to its ids (``TokenCache.add``)."""
    from qa.lexical import TokenVocabulary

    vocab = TokenVocabulary()
    arrays = [vocab.encode(_helper_tokenizer.tokens(t)) for t in texts]
    offsets = np.concatenate([[0], np.cumsum([len(a) for a in arrays], dtype=np.int64)]).astype(np.int64)
    ids = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int32)
    return vocab.tokens, offsets, ids


def _embed_batch(texts: list[str]) -> np.ndarray:
    """In the helper: one batch with the warm encoder."""
    from qa.encoder import encode

    return encode(_helper_encoder, texts)


def _small_edit(to_embed: list[str], to_tokenize: list[str]) -> tuple[np.ndarray, Encoded]:
    return _embed_batch(to_embed) if to_embed else np.zeros((0, 0), dtype=np.float32), _tokenize(to_tokenize)


class BuildHelper:
    """A second process for every build with the default model, started before the corpus is read.

    It loads the tokeniser and the encoder (``_warm``, ~2.5 s on these machines) while this
    process loads and normalises the corpus, then:

    - a small edit (``small_edit``): embeds and tokenises the few new texts at once, so this
      process never loads jieba's dictionary or the encoder;
    - a large build (``tokenize`` then ``embed``): tokenises every new text while this process
      embeds, then takes embedding batches from the back of the queue this process works
      through from the front, so both cores stay busy until the last batch.

    Tokenising (jieba, character n-grams, pypinyin) is pure Python and holds one core; the
    encoder is numpy, and two BLAS threads beside a busy core spin more than they compute.
    One thread each, on 2 cores: a cold `qa build` of the bundled corpus took 75 → 41 s.
    """

    def __init__(self, model: str, dict_dir: Path) -> None:
        from qa.config import get_settings

        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=follow_parent, initargs=(os.getpid(),))
        self._lock = threading.Lock()
        self._queue: deque[list[str]] = deque()
        self._sent: list[tuple[list[str], Future[np.ndarray]]] = []
        self._tokens: Future[Encoded] | None = None
        self._given_work = False
        self._pool.submit(_warm, model, str(get_settings().models_dir), str(dict_dir))

    def small_edit(self, to_embed: list[str], to_tokenize: list[str]) -> tuple[np.ndarray, Encoded]:
        """Vectors of ``to_embed`` and tokens of ``to_tokenize``, computed by the warm helper."""
        self._given_work = True
        return self._pool.submit(_small_edit, to_embed, to_tokenize).result()

    def tokenize(self, texts: list[str]) -> None:
        """Start tokenising ``texts``; embedding batches follow once it is done (``embed``)."""
        self._given_work = True
        self._tokens = self._pool.submit(_tokenize, texts)
        self._tokens.add_done_callback(self._take_batch)

    def _take_batch(self, _: object = None) -> None:
        with self._lock:
            if not self._queue:
                return
            batch = self._queue.pop()
            try:
                future = self._pool.submit(_embed_batch, batch)
            except RuntimeError:  # the pool broke (the helper died): this process embeds the batch
                self._queue.append(batch)
                return
            self._sent.append((batch, future))
        future.add_done_callback(self._take_batch)

    def embed(self, texts: list[str], encode: Callable[[list[str]], np.ndarray],
              progress: Callable[[int], None] | None = None) -> dict[str, np.ndarray]:
        """Vectors of distinct ``texts``: this process from the front, the helper from the back."""
        with self._lock:
            self._queue.extend(texts[i:i + HELPER_BATCH] for i in range(0, len(texts), HELPER_BATCH))
        if self._tokens is None or self._tokens.done():
            self._take_batch()
        vectors: dict[str, np.ndarray] = {}
        while True:
            with self._lock:
                if not self._queue:
                    break
                batch = self._queue.popleft()
            vectors.update(zip(batch, encode(batch), strict=True))
            if progress:
                progress(len(batch))
        with self._lock:  # the queue is empty: nothing more is sent after this
            sent = list(self._sent)
        for batch, future in sent:
            try:
                done = future.result()
            except Exception as exc:  # the helper died (memory, a signal): embed its batch here
                log.warning("the build's helper process failed (%s); embedding its batch here", exc)
                done = encode(batch)
            vectors.update(zip(batch, done, strict=True))
            if progress:
                progress(len(batch))
        return vectors

    def tokens(self) -> Encoded | None:
        """Tokens of the texts given to ``tokenize``, or None when the helper failed."""
        if self._tokens is None:
            return None
        try:
            return self._tokens.result()
        except Exception as exc:
            log.warning("the build's helper process failed (%s); tokenising here", exc)
            return None

    def close(self) -> None:
        """Let the helper go, finishing what it was given (tokens still queued behind the warm-up
        are collected after this). One never given work (a rebuild with nothing new) is still
        warming up: it is stopped, or ``qa build`` would wait for it at exit."""
        processes = list((getattr(self._pool, "_processes", None) or {}).values())
        self._pool.shutdown(wait=False, cancel_futures=not self._given_work)
        if not self._given_work:
            for process in processes:
                process.terminate()


def dictionary_digest(folder: Path) -> str:
    """A digest of the dictionaries (and the tokeniser's version) the tokens depend on."""
    from qa.index import INDEX_FORMAT

    digest = hashlib.sha256(f"format {INDEX_FORMAT}".encode())
    for path in sorted(folder.glob("*.txt")) if folder.is_dir() else []:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
