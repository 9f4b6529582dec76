"""The regression gate: compare a run's summary with the saved baseline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# metric -> direction: +1 higher is better, -1 lower is better
GATED = {"hit@1": 1, "recall@5": 1, "oos_rejected": 1, "false_answer_rate": -1}
SHOWN = ("hit@1", "recall@3", "recall@5", "recall@10", "mrr@10", "ndcg@10", "oos_rejected", "false_answer_rate")


def load_baseline(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def save_baseline(path: Path, summary: dict[str, Any], meta: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"summary": summary, **meta}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def compare(summary: dict[str, Any], baseline: dict[str, Any], tolerance: float) -> dict[str, Any]:
    """Lines describing each metric's change and whether any gated metric regressed beyond tolerance."""
    before = baseline["summary"]
    lines, regressed = [], []
    for key in SHOWN:
        if key not in before:
            continue
        delta = summary[key] - before[key]
        lines.append(f"{key}: {before[key]:.4f} → {summary[key]:.4f} ({delta:+.4f})")
        direction = GATED.get(key)
        if direction and direction * delta < -tolerance:
            regressed.append(f"{key} fell from {before[key]:.4f} to {summary[key]:.4f} "
                             f"(more than the {tolerance:.2f} tolerance)" if direction > 0 else
                             f"{key} rose from {before[key]:.4f} to {summary[key]:.4f} "
                             f"(more than the {tolerance:.2f} tolerance)")
    return {"passed": not regressed, "regressed": regressed, "lines": lines}
