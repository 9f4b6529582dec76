"""Evaluation reports: ``report.json``, ``report.md`` and a self-contained ``report.html`` with plots."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

TARGETS = {"hit@1": (">=", 0.85), "recall@5": (">=", 0.95), "oos_rejected": (">=", 0.90),
           "false_answer_rate": ("<=", 0.05), "clarified_ambiguous": (">=", 0.80), "clarified_other": ("<=", 0.05)}
# Each of these styles must reach this hit@1 on its own (issue: how people really type).
STYLE_TARGETS = {"typo": 0.80, "pinyin": 0.80, "traditional": 0.80, "traditional_tw": 0.80, "traditional_hk": 0.80}


def meets(metric: str, value: float) -> bool:
    op, target = TARGETS[metric]
    return value >= target if op == ">=" else value <= target


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _cell(text: object) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(report: dict[str, Any]) -> str:
    s = report["summary"]
    lines = [f"# Evaluation {report['created']}", "",
             f"Index `{report['index']}` · gold set `{report['gold_set']}` · {s['queries']} queries "
             f"({s['in_scope']} in scope, {s['out_of_scope']} out of scope) · threshold {s['threshold']}", "",
             "| metric | value | target |", "| --- | --- | --- |"]
    for key in ("hit@1", "recall@3", "recall@5", "recall@10", "mrr@10", "ndcg@10", "oos_rejected",
                "rejection_precision", "false_answer_rate", "coverage", "clarified_ambiguous", "clarified_other"):
        if key not in s:  # a report from before the key existed
            continue
        target = ""
        if key in TARGETS:
            op, value = TARGETS[key]
            target = f"{op} {value} {'✅' if meets(key, s[key]) else '❌'}"
        lines.append(f"| {key} | {s[key]:.4f} | {target} |")
    lines.append(f"| latency p50 / p95 | {s['latency_ms_p50']} / {s['latency_ms_p95']} ms | |")
    if report.get("ablation"):
        lines += ["", "## Ablation", "", "| variant | hit@1 | recall@5 | mrr@10 |", "| --- | --- | --- | --- |"]
        for name, m in report["ablation"].items():
            lines.append(f"| {name} | {m['hit@1']:.4f} | {m['recall@5']:.4f} | {m['mrr@10']:.4f} |")
    lines += ["", "## By category", "", "| | queries | hit@1 | recall@5 | mrr@10 |", "| --- | --- | --- | --- | --- |"]
    for name, m in report["by_category"].items():
        lines.append(f"| {name} | {m['queries']} | {m['hit@1']:.3f} | {m['recall@5']:.3f} | {m['mrr@10']:.3f} |")
    lines += ["", "## By style", "", "How residents type: hit@1 per style (targets where the style has one), and how",
              "often the assistant asked a clarifying question, used a spelling/pinyin correction, or read the",
              "question as a follow-up of its context.", "",
              "| style | queries | hit@1 | target | recall@5 | mrr@10 | clarified | corrected | follow-up |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, m in report["by_style"].items():
        goal = STYLE_TARGETS.get(name)
        target = f">= {goal} {'✅' if m['hit@1'] >= goal else '❌'}" if goal else ""
        lines.append(f"| {name} | {m['queries']} | {m['hit@1']:.3f} | {target} | {m['recall@5']:.3f} | "
                     f"{m['mrr@10']:.3f} | {_pct(m.get('clarified', 0))} | {_pct(m.get('corrected', 0))} | "
                     f"{_pct(m.get('followup', 0))} |")
    if report.get("comparison"):
        lines += ["", "## Against the baseline", ""]
        lines += [f"- {line}" for line in report["comparison"]["lines"]]
    lines += ["", f"## Worst {len(report['worst_misses'])} misses", "",
              "| query | style | expected | rank | returned first |", "| --- | --- | --- | --- | --- |"]
    for m in report["worst_misses"]:
        got = m["returned"][0] if m["returned"] else {"id": "-", "question": "-"}
        want = m["expected"][0]
        lines.append(f"| {_cell(m['query'])} | {m['style']} | {want['id']} {_cell(want['question'])}"
                     f" | {m['rank'] or '>10'} | {got['id']} {_cell(got['question'])} |")
    return "\n".join(lines) + "\n"


def _line_chart(series: dict[str, list[tuple[float, float]]], width: int = 520, height: int = 260,
                xlabel: str = "", marker: float | None = None, xrange: tuple[float, float] = (0, 1)) -> str:
    colours = ["#c0392b", "#2471a3", "#239b56", "#7d3c98"]
    left, bottom, top, right = 44, 34, 12, 12
    w, h = width - left - right, height - top - bottom
    x0, x1 = xrange

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * w

    def py(y: float) -> float:
        return top + (1 - y) * h

    parts = [f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">']
    for y in (0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line x1="{left}" x2="{left + w}" y1="{py(y)}" y2="{py(y)}" stroke="#ddd"/>'
                     f'<text x="{left - 6}" y="{py(y) + 4}" text-anchor="end" font-size="11">{int(y * 100)}%</text>')
    if marker is not None:
        parts.append(f'<line x1="{px(marker)}" x2="{px(marker)}" y1="{top}" y2="{top + h}" stroke="#555" '
                     f'stroke-dasharray="4 3"/><text x="{px(marker) + 4}" y="{top + 12}" font-size="11">当前阈值 '
                     f'{marker}</text>')
    for i, (name, points) in enumerate(series.items()):
        colour = colours[i % len(colours)]
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        parts.append(f'<text x="{left + 8 + 150 * i}" y="{height - 4}" font-size="12" fill="{colour}">■ '
                     f'{html.escape(name)}</text>')
    ticks = sorted({p[0] for pts in series.values() for p in pts})
    step = max(1, len(ticks) // 10)
    for x in ticks[::step]:
        parts.append(f'<text x="{px(x)}" y="{top + h + 14}" text-anchor="middle" font-size="11">{x:g}</text>')
    parts.append(f'<text x="{left + w}" y="{top + h + 28}" text-anchor="end" font-size="11">'
                 f'{html.escape(xlabel)}</text>')
    return "".join(parts) + "</svg>"


STYLE_NAMES = {
    "colloquial": "口语", "keywords": "关键词", "typo": "错别字", "abbreviation": "简称", "traditional": "繁体字",
    "pinyin": "拼音", "long": "长段叙述", "enterprise": "企业口吻", "formal": "书面语",
    "traditional_tw": "台湾繁体", "traditional_hk": "香港繁体", "followup": "追问", "ambiguous": "有歧义",
}


def _bars(values: dict[str, float], width: int = 600) -> str:
    row = 22
    height = row * len(values) + 10
    label_w = 270
    parts = [f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">']
    for i, (name, value) in enumerate(values.items()):
        y = 5 + i * row
        bar = (width - label_w - 60) * value
        colour = "#239b56" if value >= 0.85 else "#d68910" if value >= 0.7 else "#c0392b"
        parts.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" font-size="12">{html.escape(name)}</text>'
                     f'<rect x="{label_w}" y="{y + 2}" width="{bar:.1f}" height="{row - 6}" fill="{colour}"/>'
                     f'<text x="{label_w + bar + 4}" y="{y + 14}" font-size="11">{_pct(value)}</text>')
    return "".join(parts) + "</svg>"


def html_report(report: dict[str, Any]) -> str:
    s = report["summary"]
    esc = html.escape
    cards = []
    for key, label in (("hit@1", "第一条就答对"), ("recall@5", "前五条里有正确答案"),
                       ("oos_rejected", "无关问题被正确拒答"), ("false_answer_rate", "答错率（越低越好）")):
        ok = meets(key, s[key])
        cards.append(f'<div class="card {"ok" if ok else "bad"}"><div class="v">{_pct(s[key])}</div>'
                     f'<div>{label}</div><div class="t">目标 {TARGETS[key][0]} {_pct(TARGETS[key][1])}</div></div>')
    curve = _line_chart({"hybrid": [(float(k), v) for k, v in report["recall_curve"].items()]},
                        xlabel="前 k 条", xrange=(1, 10))
    sweep = report["sweep"]
    sweep_chart = _line_chart({
        "答对覆盖率": [(p["threshold"], p["coverage"]) for p in sweep],
        "答错率": [(p["threshold"], p["false_answer_rate"]) for p in sweep],
        "无关问题拒答率": [(p["threshold"], p["oos_rejected"]) for p in sweep],
    }, xlabel="回答阈值", marker=s["threshold"], xrange=(sweep[0]["threshold"], sweep[-1]["threshold"]))
    cats = _bars({name: m["hit@1"] for name, m in report["by_category"].items()})
    styles = _bars({f"{STYLE_NAMES.get(name, name)} ({name})": m["hit@1"] for name, m in report["by_style"].items()})
    misses = "".join(
        f"<tr><td>{esc(m['query'])}</td><td>{esc(m['style'])}</td><td>{esc(m['expected'][0]['id'])} "
        f"{esc(m['expected'][0]['question'])}</td><td>{m['rank'] or '>10'}</td><td>"
        + "<br>".join(f"{esc(r['id'])} {esc(r['question'])} ({r['score']})" for r in m["returned"])
        + "</td></tr>" for m in report["worst_misses"])
    comparison = ""
    if report.get("comparison"):
        items = "".join(f"<li>{esc(line)}</li>" for line in report["comparison"]["lines"])
        verdict = "未退步" if report["comparison"]["passed"] else "有退步"
        comparison = f"<h2>与基线比较：{verdict}</h2><ul>{items}</ul>"
    ablation = ""
    if report.get("ablation"):
        rows = "".join(f"<tr><td>{esc(n)}</td><td>{_pct(m['hit@1'])}</td><td>{_pct(m['recall@5'])}</td>"
                       f"<td>{m['mrr@10']:.3f}</td></tr>" for n, m in report["ablation"].items())
        ablation = ("<h2>各通道的贡献（消融）</h2><table><tr><th>方式</th><th>第一条答对</th><th>前五条命中</th>"
                    f"<th>MRR@10</th></tr>{rows}</table>")
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>问答评测报告 {esc(report['created'])}</title>
<style>body{{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222}}.cards{{display:flex;gap:12px;flex-wrap:wrap}}.card{{border-radius:8px;padding:12px 16px;
min-width:180px;background:#f4f6f7}}.card .v{{font-size:28px;font-weight:600}}.ok{{border-left:6px solid #239b56}}
.bad{{border-left:6px solid #c0392b}}.t{{color:#666;font-size:12px}}table{{border-collapse:collapse;width:100%;
font-size:13px}}td,th{{border-bottom:1px solid #eee;padding:4px 6px;text-align:left;vertical-align:top}}
.grid{{display:flex;flex-wrap:wrap;gap:24px}}</style></head><body>
<h1>问答评测报告</h1><p>{esc(report['created'])} · 索引 {esc(report['index'])} · {s['queries']} 条测试问题
（{s['in_scope']} 条应答，{s['out_of_scope']} 条应拒答）· 回答阈值 {s['threshold']} ·
延迟 p50 {s['latency_ms_p50']} ms / p95 {s['latency_ms_p95']} ms</p>
<div class="cards">{''.join(cards)}</div>{comparison}
<div class="grid"><div><h2>前 k 条里找到正确答案的比例</h2>{curve}</div>
<div><h2>阈值怎么选：覆盖率与答错率</h2>{sweep_chart}
<p class="t">阈值越高，答错越少，但能回答的也越少；虚线是当前阈值。</p></div></div>
<div class="grid"><div><h2>各分类第一条答对率</h2>{cats}</div><div><h2>各种问法第一条答对率</h2>{styles}</div></div>
{ablation}<h2>最差的 {len(report['worst_misses'])} 个问题</h2>
<table><tr><th>问题</th><th>问法</th><th>应该找到</th><th>排名</th><th>实际返回</th></tr>{misses}</table>
</body></html>"""


def write_reports(report: dict[str, Any], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "report.json", folder / "report.md", folder / "report.html"]
    paths[0].write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    paths[1].write_text(markdown(report), encoding="utf-8")
    paths[2].write_text(html_report(report), encoding="utf-8")
    return paths
