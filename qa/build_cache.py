"""What a rebuild can reuse: embeddings and lexical tokens of texts seen before.

Embeddings are keyed by sha256(model id, normalised text) and tokens by sha256(dictionary
digest, normalised text), so editing a few entries re-embeds and re-tokenises only those.
Both live in ``<index>/cache/`` (an .npz without pickles and a JSON file), are written
atomically, and keep only the texts of the last build, so they do not grow without bound.
A damaged cache is ignored (and rebuilt), never trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def _key(namespace: str, text: str) -> bytes:
    return hashlib.sha256(namespace.encode() + b"\0" + text.encode()).digest()[:16]


@dataclass
class CacheStats:
    reused: int = 0
    computed: int = 0


class EmbeddingCache:
    """Vectors of normalised texts for one model."""

    def __init__(self, folder: Path, model: str) -> None:
        self.path = folder / f"embeddings-{hashlib.sha256(model.encode()).hexdigest()[:12]}.npz"
        self.model = model
        self._rows: dict[bytes, np.ndarray] = {}
        self._used: dict[bytes, np.ndarray] = {}
        self.stats = CacheStats()
        try:
            with np.load(self.path, allow_pickle=False) as data:
                keys, vectors = data["keys"], data["vectors"]
            self._rows = {k.tobytes(): vectors[i] for i, k in enumerate(keys)}
        except FileNotFoundError:
            pass
        except Exception as exc:  # a truncated or foreign file: start over
            log.warning("ignoring damaged embedding cache %s (%s)", self.path, exc)

    def missing(self, texts: list[str]) -> int:
        """How many of ``texts`` would have to be embedded."""
        return len({_key(self.model, t) for t in texts} - self._rows.keys())

    def embed(self, texts: list[str], encode: Callable[[list[str]], np.ndarray],
              progress: Callable[[int], None] | None = None, batch: int = 512) -> np.ndarray:
        """Vectors for ``texts``: from the cache where present, else from ``encode`` in batches."""
        keys = [_key(self.model, t) for t in texts]
        missing = [i for i, k in enumerate(keys) if k not in self._rows]
        self.stats.reused += len(texts) - len(missing)
        self.stats.computed += len(missing)
        for start in range(0, len(missing), batch):
            chunk = missing[start : start + batch]
            for i, vector in zip(chunk, encode([texts[i] for i in chunk]), strict=True):
                self._rows[keys[i]] = vector
            if progress:
                progress(len(chunk))
        out = np.stack([self._rows[k] for k in keys]) if keys else np.zeros((0, 0), dtype=np.float32)
        self._used.update(zip(keys, out, strict=True))
        return out.astype(np.float32, copy=False)

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
    """Lexical tokens of normalised texts for one set of dictionaries. Stored as one string per
    text, tokens separated by U+001F (a control character normalisation removes from text)."""

    def __init__(self, folder: Path, dictionary_digest: str) -> None:
        self.path = folder / f"tokens-{dictionary_digest[:12]}-v2.json"
        self.digest = dictionary_digest
        self._rows: dict[str, str] = {}
        self._used: dict[str, str] = {}
        self.stats = CacheStats()
        try:
            self._rows = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            pass
        except (ValueError, OSError) as exc:
            log.warning("ignoring damaged token cache %s (%s)", self.path, exc)

    def tokens(self, texts: list[str], tokenize: Callable[[str], list[str]]) -> list[list[str]]:
        out = []
        for text in texts:
            key = _key(self.digest, text).hex()
            joined = self._rows.get(key)
            if joined is None:
                tokens = tokenize(text)
                joined = self._rows[key] = "\x1f".join(tokens)
                self.stats.computed += 1
            else:
                tokens = joined.split("\x1f") if joined else []
                self.stats.reused += 1
            self._used[key] = joined
            out.append(tokens)
        return out

    def save(self) -> None:
        if not self._used:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self._used, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.path)


def dictionary_digest(folder: Path) -> str:
    """A digest of the dictionaries (and the tokeniser's version) the tokens depend on."""
    from qa.index import INDEX_FORMAT

    digest = hashlib.sha256(f"format {INDEX_FORMAT}".encode())
    for path in sorted(folder.glob("*.txt")) if folder.is_dir() else []:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
