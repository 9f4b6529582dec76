"""Front ends of the one service: the residents' chat (Gradio, at /), policy pages and the widget."""

from __future__ import annotations

from pathlib import Path

UI_DIR = Path(__file__).resolve().parent
