"""Gradio, imported without its developer-only stub writer; ``from ui.gradio_import import gr``.

On every import, Gradio's component metaclass re-reads and re-parses each component's source
file to regenerate its ``.pyi`` typing stub next to it (``create_or_modify_pyi`` in
``gradio/component_meta.py``, called unconditionally). That was about 2.5 s of ``qa serve``'s
12 s start-up on 2 cores (py-spy), and it writes into site-packages. The stubs only serve Gradio's
own developers' type checkers. A finder on ``sys.meta_path`` loads ``gradio.component_meta`` as
usual and then replaces that one function with a no-op, before any component class is defined.
If a Gradio version has no such function, nothing is replaced and Gradio behaves as shipped.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

STUB_WRITER_MODULE = "gradio.component_meta"
STUB_WRITER = "create_or_modify_pyi"


def _no_stubs(*_: Any, **__: Any) -> None:
    return None


class _WithoutStubWriter(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if name != STUB_WRITER_MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        loader = spec.loader if spec is not None else None
        if loader is None:
            return spec
        exec_module = loader.exec_module

        def exec_without_stub_writer(module: ModuleType) -> None:
            exec_module(module)
            if callable(getattr(module, STUB_WRITER, None)):
                setattr(module, STUB_WRITER, _no_stubs)

        loader.exec_module = exec_without_stub_writer  # type: ignore[method-assign]
        return spec


if not any(isinstance(finder, _WithoutStubWriter) for finder in sys.meta_path):
    sys.meta_path.insert(0, _WithoutStubWriter())
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402  (after the finder and the analytics switch)

__all__ = ["gr"]
