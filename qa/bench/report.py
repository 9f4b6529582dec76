"""The benchmark's Markdown table (``eval/bench/results.md``), from ``results.json``."""

from __future__ import annotations

from typing import Any

from qa.bench.http import WARM_SECONDS

TARGETS = {
    "p50_vs_floor": 1.5, "p99_vs_floor": 3.0, "million_p99_ms": 25.0, "recall5_loss": 0.01, "http_rps_c16": 500,
    "http_p99_ms_c16": 50.0, "cold_build_s": 60.0, "incremental_s": 5.0, "startup_s": 10.0, "rss_mb_7800": 1536,
    "rss_mb_million": 6144,
}


def _ok(good: bool) -> str:
    return "✅" if good else "❌"


def _lat(fig: dict[str, Any]) -> str:
    lat = fig["latency_ms"]
    return f"{lat['p50']:.1f} / {lat['p95']:.1f} / {lat['p99']:.1f}"


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    out = [
        "# Benchmark results",
        "",
        f"`make bench` ({r['seconds'] / 60:.0f} min) on {m['cores']} cores ({m['cpu']}), {m['memory_mb'] // 1024} GB, "
        f"Python {m['python']}, FAISS {m['faiss']}; {r['started']}. {r['gold_queries']} gold queries "
        f"(eval/gold), default encoder, searches one at a time on one thread. Figures drift on a shared "
        "machine: latencies are also given as multiples of the **floor** measured in the same run — the "
        "encoder on the query plus one exact FAISS search over the same number of vectors. Raw figures: "
        "[results.json](results.json). Synthetic corpora (`qa corpus synth`) are the real entries plus "
        "recombined variations, for benchmarks only; they reuse the real entries' answers, so their cold "
        "builds embed 3,033 answers where a real corpus of that size would embed one per entry.",
        "",
        "## In-process search (ms: p50 / p95 / p99)",
        "",
        "| corpus | entries | phrasings | dense index | search | floor p50 | × floor p50 / p99 | hit@1 | R@5 |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]

    def row(label: str, fig: dict[str, Any]) -> str:
        floor = fig.get("floor")
        ratio = fig.get("vs_floor")
        return (f"| {label} | {fig['entries']:,} | {fig['phrasings']:,} | {fig['index_type']} | {_lat(fig)} | "
                f"{floor['floor_ms']['p50']:.1f} |" if floor else
                f"| {label} | {fig['entries']:,} | {fig['phrasings']:,} | {fig['index_type']} | {_lat(fig)} | – |") + (
                f" {ratio['p50']:.2f} / {ratio['p99']:.2f} |" if ratio else " – |") + \
            f" {fig['hit@1']:.3f} | {fig['recall@5']:.3f} |"

    out.append(row("bundled (real)", r["bundled"]))
    for point in r.get("scale", []):
        label = f"synthetic {point['entries']:,}"
        out.append(row(f"{label} (served)", point["served"]))
        out.append(row(f"{label} (other index, same vectors)", point["other"]))
    out += ["", "Floor parts (p50, ms): " + "; ".join(
        f"{p['entries']:,}: encoder {p['served']['floor']['encode_ms']['p50']:.1f} + exact search "
        f"{p['served']['floor']['exact_search_ms']['p50']:.1f}" for p in r.get("scale", []))
        + f"; bundled: encoder {r['bundled']['floor']['encode_ms']['p50']:.1f} + exact search "
        f"{r['bundled']['floor']['exact_search_ms']['p50']:.1f}.", ""]
    if r.get("scale"):
        out += ["| synthetic entries | served index | R@5 lost by the approximate index | server ready (s) | "
                "server RSS (MB) | of it private (MB) |", "|---:|---|---:|---:|---:|---:|"]
        for p in r["scale"]:
            loss = p["approximate_recall5_loss"] * 100
            private = p["server"].get("private_mb")
            out.append(f"| {p['entries']:,} | {p['served']['index_type']} | {loss:+.1f} pt"
                       f" | {p['server']['startup_to_ready_s']} | {p['server']['rss_mb']:,.0f} | "
                       f"{'–' if private is None else f'{private:,.0f}'} |")
        out += ["", "Server RSS after 200 searches. The BM25 arrays and answer vectors are memory-mapped: "
                "their pages in the RSS are the page cache's, shared by the workers of `--workers N` and "
                "given back under memory pressure; *private* is the rest (anonymous memory), which is not.", ""]

    out += ["## Peers (bundled corpus, same gold set, same run)", "",
            "| system | hit@1 | Recall@5 | MRR@10 | p50 ms | p99 ms |", "|---|---:|---:|---:|---:|---:|"]
    for peer in r["peers"].values():
        if "error" in peer:
            out.append(f"| {peer['name']} | failed: {peer['error'][:120]} | | | | |")
            continue
        lat = peer["latency_ms"]
        out.append(f"| {peer['name']} | {peer['hit@1']:.3f} | {peer['recall@5']:.3f} | {peer['mrr@10']:.3f} | "
                   f"{lat['p50']:.1f} | {lat['p99']:.1f} |")
    out.append("")

    out += ["## Build", "", "| corpus | entries | phrasings | cold `qa build` (s) | texts/s | "
            "incremental, 5 entries edited (s) | index on disk (MB) | load (s) | `qa serve` to ready (s) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, b in r["build"].items():
        out.append(f"| {name} | {b['entries']:,} | {b['phrasings']:,} | {b['cold_build_s']} | "
                   f"{b['build_texts_per_s']:,.0f} | {b['incremental_build_s']} | {b['index_mb']} | {b['load_s']} | "
                   f"{b['startup_to_ready_s']} |")
    out.append("")

    if r.get("http"):
        out += ["## HTTP: `GET /v1/search` under wrk on localhost (synthetic 7,800 entries)", "",
                "Questions *searched*: the result cache off, every request runs the encoder and both indexes. "
                "*Repeated*: the cache on (as served), once it holds the stream of gold questions (rounds of "
                f"{WARM_SECONDS} s of that stream until the rate stops rising), as at a peak when residents ask "
                "the same questions again and again.", "",
                "| questions | workers | concurrency | requests/s | p50 ms | p99 ms | errors | "
                "server CPU ms / request | server peak RSS (MB) |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for h in r["http"]:
            for run in h["runs"].values():
                kind = "repeated" if h.get("repeated") else "searched"
                out.append(f"| {kind} | {h['workers']} | {run['concurrency']} | {run['requests_per_s']:,.0f} | "
                           f"{run['latency_ms'].get('p50', 0):.1f} | {run['latency_ms'].get('p99', 0):.1f} | "
                           f"{run['errors']} | {run['server_cpu_ms_per_request']:.1f} | {h['peak_rss_mb']:,.0f} |")
        out.append("")
    out += ["## Against the targets", "", *targets(r), ""]
    return "\n".join(out)


def targets(r: dict[str, Any]) -> list[str]:
    t = TARGETS
    lines = []
    at_7800 = next((p for p in r.get("scale", []) if p["entries"] == 7_800), None)
    if at_7800:
        v = at_7800["served"]["vs_floor"]
        lines.append(f"- {_ok(v['p50'] <= t['p50_vs_floor'])} 7,800 entries: p50 {v['p50']:.2f} × floor "
                     f"(target ≤ {t['p50_vs_floor']})")
        lines.append(f"- {_ok(v['p99'] <= t['p99_vs_floor'])} 7,800 entries: p99 {v['p99']:.2f} × floor "
                     f"(target ≤ {t['p99_vs_floor']})")
    million = next((p for p in r.get("scale", []) if p["entries"] >= 1_000_000), None)
    if million:
        p99 = million["served"]["latency_ms"]["p99"]
        loss = million["approximate_recall5_loss"]
        lines.append(f"- {_ok(p99 <= t['million_p99_ms'])} 1,000,000 entries: p99 {p99:.1f} ms (target ≤ 25 ms)")
        lines.append(f"- {_ok(loss <= t['recall5_loss'])} 1,000,000 entries: Recall@5 lost to the approximate "
                     f"index {loss * 100:.1f} pt (target ≤ 1 pt)")
        lines.append(f"- {_ok(million['server']['rss_mb'] <= t['rss_mb_million'])} 1,000,000 entries: server RSS "
                     f"{million['server']['rss_mb']:,.0f} MB (target ≤ 6 GB)")
    else:
        lines.append("- ⏸ 1,000,000 entries: not in this run (`make bench BENCH_FLAGS=--million`)")
    for h in r.get("http", []):
        c16 = h["runs"].get("c16")
        if c16:
            good = c16["requests_per_s"] >= t["http_rps_c16"] and c16["latency_ms"].get("p99", 1e9) <= \
                t["http_p99_ms_c16"] and c16["errors"] == 0
            kind = "repeated questions" if h.get("repeated") else "every question searched"
            lines.append(f"- {_ok(good)} HTTP ({kind}), {h['workers']} worker(s), concurrency 16: "
                         f"{c16['requests_per_s']:,.0f} "
                         f"req/s, p99 {c16['latency_ms'].get('p99', 0):.1f} ms, {c16['errors']} errors "
                         "(target ≥ 500 req/s, p99 ≤ 50 ms, 0 errors)")
            if h.get("repeated"):
                continue
            lines.append(f"- {_ok(h['peak_rss_mb'] <= t['rss_mb_7800'])} server peak RSS {h['peak_rss_mb']:,.0f} MB "
                         f"with {h['workers']} worker(s) (target ≤ 1.5 GB at 7,800 entries)")
    b = r["build"].get("synthetic-7800")
    if b:
        lines.append(f"- {_ok(b['cold_build_s'] <= t['cold_build_s'])} cold build of 7,800 entries "
                     f"({b['phrasings']:,} phrasings): {b['cold_build_s']} s (target ≤ 60 s)")
        lines.append(f"- {_ok(b['incremental_build_s'] <= t['incremental_s'])} incremental rebuild: "
                     f"{b['incremental_build_s']} s (target ≤ 5 s)")
        lines.append(f"- {_ok(b['startup_to_ready_s'] <= t['startup_s'])} `qa serve` start-up to ready: "
                     f"{b['startup_to_ready_s']} s (target ≤ 10 s)")
    q = r["peers"]["qa"]
    for key, peer in r["peers"].items():
        if key == "qa" or "error" in peer:
            continue
        good = q["hit@1"] > peer["hit@1"] and q["recall@5"] >= peer["recall@5"]
        lines.append(f"- {_ok(good)} quality vs {peer['name']}: hit@1 {q['hit@1']:.3f} vs {peer['hit@1']:.3f}, "
                     f"R@5 {q['recall@5']:.3f} vs {peer['recall@5']:.3f}")
    return lines
