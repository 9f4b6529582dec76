"""The ``qa`` command: build, ask, serve, and corpus checks."""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from qa.config import REPO_ROOT, Settings, get_settings
from qa.errors import CorpusInvalid, QAError

log = logging.getLogger("qa")


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "corpus", None):
        overrides["corpus_dir"] = Path(args.corpus)
    if getattr(args, "index", None):
        overrides["index_dir"] = Path(args.index)
        if not getattr(args, "corpus", None):
            # An index named on the command line answers for the corpus it was built from.
            from qa.index import Manifest, resolve_index

            try:
                built_from = Manifest.read(resolve_index(Path(args.index))).corpus_dir
            except QAError:
                built_from = ""
            if built_from:
                overrides["corpus_dir"] = Path(built_from)
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if getattr(args, "port", None):
        overrides["port"] = args.port
    return get_settings().model_copy(update=overrides)


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def build(settings: Settings, force: bool = False) -> Path:
    """Build the index unless the current one already matches corpus and model."""
    from tqdm import tqdm

    from qa.encoder import load_encoder
    from qa.index import build_index, current_build, is_up_to_date

    if not force and is_up_to_date(settings.index_dir, settings.corpus_dir, settings.model,
                                  settings.exact_max_vectors):
        folder = current_build(settings.index_dir)
        assert folder is not None
        _out(f"index up to date: {folder} (corpus and model unchanged; --force rebuilds)")
        return folder
    started = time.perf_counter()
    _out(f"loading model {settings.model} …")
    encoder = load_encoder(settings.model, settings.models_dir, threads=settings.build_threads)
    bar = tqdm(total=None, unit="text", desc="embedding questions, alternates and answers", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        if bar.total != total:
            bar.reset(total=total)
        bar.update(done - bar.n)

    folder = build_index(settings.corpus_dir, settings.index_dir, encoder, settings.model, progress=progress,
                         exact_max_vectors=settings.exact_max_vectors)
    bar.close()
    seconds = time.perf_counter() - started
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    _out(f"built {folder}: {manifest['entries']} entries, {manifest['vectors']} phrasings in {seconds:.1f}s "
         f"(embedded {manifest['embedded']} texts, {manifest['embeddings_reused']} from the cache; "
         f"dense index {manifest['index_type']})")
    cold = settings.index_dir / "cache" / "cold_build.json"
    if manifest["embeddings_reused"] == 0:
        cold.write_text(json.dumps({"seconds": round(seconds, 1), "texts": manifest["embedded"],
                                    "at": manifest["built_at"]}), encoding="utf-8")
    elif cold.exists():
        last = json.loads(cold.read_text(encoding="utf-8"))
        _out(f"incremental build {seconds:.1f}s; the last cold build ({last['texts']} texts, {last['at']}) "
             f"took {last['seconds']}s, {last['seconds'] / max(seconds, 0.1):.0f}× longer")
    return folder


def cmd_build(args: argparse.Namespace) -> int:
    build(_settings(args), force=args.force)
    return 0


def _searcher(settings: Settings) -> Any:
    from qa.service import Service

    service = Service(settings)
    service.load()
    if service.searcher is None:
        raise QAError(service.not_ready or "index not loaded")
    return service.searcher


def cmd_ask(args: argparse.Namespace) -> int:
    from qa.api.errors import BadQuery
    from qa.api.routes.search import check_question

    settings = _settings(args)
    if not 1 <= args.k <= settings.max_k:
        raise QAError(f"--k must be between 1 and {settings.max_k}")
    try:
        question = check_question(args.question, settings.max_query_chars)
    except BadQuery as exc:
        raise QAError(exc.message) from None
    from qa.understand import understand

    taken = understand(_searcher(settings), question, args.k)
    result = taken.result
    if args.json:
        body = result.body()
        body["corrected"] = taken.corrected
        body["clarify"] = None if taken.clarify is None else {
            "question": taken.clarify.question, "options": [{"id": h.id, "question": h.question}
                                                            for h in taken.clarify.options]}
        _out(json.dumps(body, ensure_ascii=False, indent=2))
        return 0
    if taken.corrected:
        _out(f"您是不是要找：{taken.corrected}\n")
    if taken.clarify is not None:
        _out(taken.clarify.question)
        for hit in taken.clarify.options:
            _out(f"  · {hit.question}  ({hit.id})")
    elif result.answered:
        top = result.hits[0]
        _out(f"【{top.question}】\n{top.answer}\n")
        for source in top.sources:
            _out(f"  依据：{source.title} {source.doc_no} （{source.status}） {source.url}")
    else:
        _out("抱歉，没有找到可靠的答案。您可以拨打12345政务服务便民热线咨询。")
        if result.suggestions:
            _out("您是不是想问：")
            for suggestion in result.suggestions:
                _out(f"  · {suggestion}")
    _out(f"\n({result.took_ms:.1f} ms, score {result.hits[0].score:.3f})" if result.hits else "")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from tqdm import tqdm

    from qa.evaluation import baseline, runner
    from qa.evaluation.goldset import GoldSetInvalid, check_against_corpus, load_gold, set_sha256
    from qa.evaluation.report import write_reports

    # Every question searched afresh: the latency figures are each question's own, never a repeat's.
    settings = _settings(args).model_copy(update={"search_cache": 0})
    if args.corpus and not args.index:
        # An imported corpus gets its own index beside the bundled one.
        settings = settings.model_copy(update={"index_dir": settings.index_dir / "eval" / Path(args.corpus).name})
    if args.corpus or args.build:
        build(settings)
    gold_path = Path(args.set) if args.set else REPO_ROOT / "eval" / "gold"
    queries = load_gold(gold_path)
    searcher = _searcher(settings)
    problems = check_against_corpus(queries, searcher.index.entries)
    if problems:
        raise GoldSetInvalid.listing(problems)
    with tqdm(total=len(queries), unit="query", desc="evaluating", file=sys.stderr) as bar:
        run = runner.run(searcher, queries, ablate=args.ablate, progress=lambda: bar.update(1))
    hybrid = run.outcomes["hybrid"]
    by_id = searcher.index.by_id
    summary = run.summary()
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
    report: dict[str, Any] = {
        "created": created, "index": str(searcher.index.folder), "gold_set": str(gold_path),
        "gold_set_sha256": set_sha256(gold_path), "corpus_sha256": searcher.index.manifest.corpus_sha256,
        "model": searcher.index.manifest.model, "summary": summary,
        "recall_curve": runner.recall_curve(hybrid), "sweep": runner.sweep(hybrid),
        "by_category": runner.breakdown(hybrid, runner.category_of(by_id)),
        "by_style": runner.breakdown(hybrid, lambda o: o.query.style),
        "worst_misses": runner.worst_misses(hybrid, by_id),
        "ablation": {name: runner.ranking_metrics(rows) for name, rows in run.outcomes.items()} if args.ablate else {},
    }
    baseline_path = Path(args.baseline) if args.baseline else REPO_ROOT / "eval" / "baseline.json"
    saved = baseline.load_baseline(baseline_path)
    if saved and saved.get("gold_set_sha256") not in (None, report["gold_set_sha256"]) and not args.baseline:
        # Another gold set (an imported corpus's): the bundled baseline says nothing about it.
        _out(f"note: {baseline_path} was saved for another gold set; not comparing (pass --baseline FILE)")
        saved = None
    verdict = baseline.compare(summary, saved, args.tolerance) if saved and not args.save_baseline else None
    report["comparison"] = verdict
    folder = Path(args.reports) if args.reports else REPO_ROOT / "eval" / "reports"
    paths = write_reports(report, folder / created)

    _out(f"{summary['queries']} queries ({summary['in_scope']} in scope, {summary['out_of_scope']} out of scope), "
         f"threshold {summary['threshold']}")
    for key in ("hit@1", "recall@3", "recall@5", "recall@10", "mrr@10", "ndcg@10", "oos_rejected",
                "rejection_precision", "false_answer_rate", "coverage", "clarified_ambiguous", "clarified_other"):
        _out(f"  {key:20s} {summary[key]:.4f}")
    _out(f"  {'latency p50/p95':20s} {summary['latency_ms_p50']} / {summary['latency_ms_p95']} ms")
    _out(f"  {'style':16s} {'queries':>7s} {'hit@1':>6s} {'R@5':>6s} "
         f"{'clarified':>9s} {'corrected':>9s} {'follow-up':>9s}")
    for name, m in report["by_style"].items():
        _out(f"  {name:16s} {m['queries']:7d} {m['hit@1']:6.3f} {m['recall@5']:6.3f} {m['clarified']:9.1%} "
             f"{m['corrected']:9.1%} {m['followup']:9.1%}")
    for name, m in report["ablation"].items():
        _out(f"  ablation {name:8s} hit@1 {m['hit@1']:.4f}  recall@5 {m['recall@5']:.4f}  mrr@10 {m['mrr@10']:.4f}")
    _out("reports: " + ", ".join(str(p) for p in paths))
    if args.save_baseline:
        baseline.save_baseline(baseline_path, summary, {k: report[k] for k in
                               ("created", "gold_set_sha256", "corpus_sha256", "model")})
        _out(f"baseline saved to {baseline_path}")
        return 0
    if verdict is None:
        _out(f"no baseline at {baseline_path}: run `qa eval --save-baseline` to create one")
        return 0
    for line in verdict["lines"]:
        _out(f"  vs baseline  {line}")
    if not verdict["passed"]:
        sys.stderr.write("REGRESSION: " + "; ".join(verdict["regressed"]) + "\n")
        return 3
    _out("no regression against the baseline")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from qa.api.app import create_app
    from qa.service import Service, index_problem

    settings = _settings(args)
    if args.watch:
        settings = settings.model_copy(update={"watch": True})
    if args.workers:
        settings = settings.model_copy(update={"workers": args.workers})
    if args.build:
        build(settings)
    from qa import logs

    if settings.workers > 1:
        # A bad index stops here, with the reason, not in each worker. Checked in a child process:
        # memory this process touched would stay with it (550 MB) beside the workers' own.
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            problem = pool.submit(index_problem, settings).result()
        if problem:
            raise QAError(f"cannot serve: {problem}")
    else:
        service = Service(settings)
        service.load()
        if service.searcher is None:
            raise QAError(f"cannot serve: {service.not_ready}")
    # Our middleware logs each request (hashed client IP) and reads X-Forwarded-For only from
    # QA_TRUSTED_PROXIES, so uvicorn's access log and its own proxy-header handling are off.
    options: dict[str, Any] = dict(host=settings.host, port=settings.port, log_config=None, access_log=False,
                                   proxy_headers=False, server_header=False,
                                   timeout_keep_alive=int(settings.keep_alive_seconds))
    if settings.watch:
        _out(f"watching {settings.index_dir / 'CURRENT'} for new builds every {settings.watch_seconds:g}s")
    if settings.workers > 1:
        # Each worker is a fresh process that builds the app from QA_* variables: hand it this
        # command's settings, and one IP-hash salt so all workers log the same client alike.
        os.environ.update(_as_environment(settings))
        os.environ.setdefault("QA_IP_HASH_SALT", secrets.token_hex(16))
        logs.configure(settings.log_format)
        _out(f"serving on http://{settings.host}:{settings.port} with {settings.workers} workers "
             "(API docs at /docs); Ctrl+C stops")
        uvicorn.run("qa.api.app:worker_app", factory=True, workers=settings.workers, **options)
        return 0
    app = create_app(settings, service)
    logs.configure(settings.log_format)
    if settings.watch:
        service.watch(settings.watch_seconds)
    _out(f"serving on http://{settings.host}:{settings.port} (API docs at /docs); Ctrl+C stops")
    uvicorn.run(app, **options)
    return 0


def _as_environment(settings: Settings) -> dict[str, str]:
    """The settings a command line changed, as the QA_* variables a worker process reads."""
    names = ("corpus_dir", "index_dir", "host", "port", "watch", "workers")
    return {f"QA_{name.upper()}": str(getattr(settings, name)) for name in names}


def cmd_soak(args: argparse.Namespace) -> int:
    from qa.soak import as_json, soak, summary

    _out(f"soak: {args.seconds:g} s at concurrency {args.concurrency} "
         f"against {args.url or 'a qa serve started here'} …")
    result = soak(args.seconds, args.concurrency, url=args.url, pid=args.pid, workers=args.workers)
    _out(summary(result))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(as_json(result) + "\n", encoding="utf-8")
        _out(f"figures written to {args.out}")
    problems = result.verdict()
    sys.stdout.flush()
    for sample in result.transport_error_samples:
        sys.stderr.write(f"transport error: {sample}\n")
    for problem in problems:
        sys.stderr.write(f"FAILED: {problem}\n")
    return 0 if not problems else 4


def cmd_bench(args: argparse.Namespace) -> int:
    from qa.bench.report import targets
    from qa.bench.run import MILLION, SIZES, bench

    sizes = tuple(args.sizes) if args.sizes else SIZES + ((MILLION,) if args.million else ())
    if any(n < 1 for n in sizes):
        raise QAError(f"--sizes must be positive numbers of entries, not {sizes}")
    out = Path(args.out)
    _out(f"benchmark: bundled corpus, synthetic {', '.join(f'{n:,}' for n in sizes)} entries"
         f"{'' if args.http else ', no HTTP'}; figures to {out}/results.json and results.md")
    results = bench(out, Path(args.work), sizes=sizes, do_http=args.http, do_txtai=args.txtai,
                    settings=get_settings())
    for line in targets(results):
        _out(line)
    _out(f"done in {results['seconds'] / 60:.1f} min: {out / 'results.md'}")
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from qa.keys import add_key, read_keys, revoke_key

    path = get_settings().api_keys_file
    if args.keys_command == "add":
        raw = add_key(path, args.name, args.origin, args.category, args.per_minute)
        _out(f"key for {args.name} (shown once; only its hash is kept in {path}):\n{raw}")
        _out(f'widget: <script src=".../widget.js" data-api="..." data-key="{raw}" async></script>')
    elif args.keys_command == "revoke":
        revoke_key(path, args.name)
        _out(f"revoked {args.name}; the service stops accepting it within a few seconds")
    else:
        keys = read_keys(path)
        for key in keys:
            rate = "default rate" if key.per_minute is None else f"{key.per_minute}/min"
            _out(f"{key.name}\torigins: {', '.join(key.origins)}\tcategories: {', '.join(key.categories) or 'all'}"
                 f"\t{rate}\tcreated {key.created}")
        if not keys:
            _out(f"no keys in {path} (`qa keys add NAME --origin https://…` creates one)")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from qa.corpus import load_corpus

    settings = get_settings()
    root = Path(args.dir) if args.dir else settings.corpus_dir
    corpus = load_corpus(root)
    for warning in corpus.warnings:
        _out(f"warning: {warning}")
    if not args.fast:
        from qa.encoder import load_encoder
        from qa.quality import NEAR_DUPLICATE_COSINE, near_duplicates

        encoder = load_encoder(settings.model, settings.models_dir, threads=settings.build_threads)
        duplicates = near_duplicates(corpus, encoder)
        if duplicates:
            raise CorpusInvalid([f"near-duplicate (cosine ≥ {NEAR_DUPLICATE_COSINE}): {d}" for d in duplicates]
                                + ["(list a pair in distinct_pairs.txt only if the two really ask different things)"])
    _out(f"{root}: OK, {len(corpus.entries)} entries, {len(corpus.policies)} policies, "
         f"{len(corpus.categories)} categories, {len(corpus.warnings)} warning(s)")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from qa.corpus import corpus_stats, load_corpus

    root = Path(args.dir) if args.dir else get_settings().corpus_dir
    stats = corpus_stats(load_corpus(root))
    if args.json:
        _out(json.dumps(stats, ensure_ascii=False, indent=2))
        return 0
    _out(f"entries {stats['entries']} (published {stats['published']}), policies {stats['policies']}, "
         f"categories {stats['categories']}, policy packs {stats['packs']}, case groups {stats['case_groups']}")
    _out(f"alternates per entry: min {stats['alternates_per_entry']['min']}, "
         f"mean {stats['alternates_per_entry']['mean']}")
    a = stats["answer_chars"]
    _out(f"answer length: min {a['min']}, median {a['median']}, max {a['max']}")
    _out("audience: " + ", ".join(f"{k} {v}" for k, v in stats["per_audience"].items()))
    for name, count in stats["per_category"].items():
        _out(f"  {count:5d}  {name}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from qa.corpus_import import import_corpus

    report = import_corpus(Path(args.file), Path(args.into))
    for warning in report.warnings:
        _out(f"warning: {warning}")
    _out(f"imported {args.file} into {report.target}: {report.entries} entries, {report.categories} categories"
         + (f", {report.generated_ids} new ids generated" if report.generated_ids else ""))
    _out(f"next: qa build --corpus {report.target}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from qa.corpus import load_corpus
    from qa.corpus_import import export_corpus

    root = Path(args.dir) if args.dir else get_settings().corpus_dir
    count = export_corpus(load_corpus(root), Path(args.to))
    _out(f"exported {count} entries from {root} to {args.to}")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from qa.synth import write_synthetic_corpus

    if args.n < 1:
        raise QAError(f"--n must be a positive number of entries, not {args.n}")
    source = Path(args.dir) if args.dir else get_settings().corpus_dir
    counts = write_synthetic_corpus(source, Path(args.out), args.n, seed=args.seed)
    _out(f"wrote a SYNTHETIC corpus (benchmarks only) to {args.out}: {counts['real']} real + "
         f"{counts['synthetic']} synthetic entries")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from qa.corpus import load_corpus
    from qa.corpus_diff import diff_corpora

    for line in diff_corpora(load_corpus(Path(args.old)), load_corpus(Path(args.new))).lines():
        _out(line)
    return 0


def _since(value: str | None) -> Any:
    from datetime import UTC, date, datetime

    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise QAError(f"--since {value!r} is not a date; write it as YYYY-MM-DD") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _entry_questions(settings: Settings) -> dict[str, str]:
    """id -> question from the current index (or nothing, when there is none)."""
    from qa.index import resolve_index

    try:
        folder = resolve_index(settings.index_dir)
        lines = (folder / "entries.jsonl").read_text(encoding="utf-8").splitlines()
    except (QAError, OSError):
        return {}
    return {e["id"]: e["question"] for e in map(json.loads, lines)}


def cmd_report(args: argparse.Namespace) -> int:
    from qa.reports import report_sheets, top_report, unanswered_report
    from qa.sheets import write_table
    from qa.store import Store

    settings = _settings(args)
    store, since, questions = Store(settings.database_url), _since(args.since), _entry_questions(settings)
    if args.report_command == "unanswered":
        from qa.encoder import load_encoder

        encoder = load_encoder(settings.model, settings.models_dir, threads=settings.build_threads)
        report = unanswered_report(store, encoder, since, questions)
        _out(f"{report['unanswered']} unanswered question(s) in {len(report['groups'])} group(s)")
        for g in report["groups"][:30]:
            near = f"  (closest: {g['closest_entry']} {g['closest_question']})" if g["closest_entry"] else ""
            _out(f"{g['asked']:5d}×  {' / '.join(g['examples'][:3])}{near}")
        if report["disliked"]:
            _out("entries with the most 👎:")
            for d in report["disliked"][:20]:
                _out(f"{d['down']:5d}👎 {d['up']:3d}👍  {d['entry_id']} {d['question']}  "
                     f"← {' / '.join(d['examples'][:2])}")
    else:
        report = top_report(store, since, questions)
        _out(f"{report['asked']} question(s), {report['answered_ratio']:.0%} answered")
        for q in report["questions"]:
            _out(f"{q['asked']:5d}×  {q['query']}  ({q['answered_ratio']:.0%} answered)")
        _out("answered ratio by category:")
        for c in report["by_category"]:
            _out(f"  {c['category']}: {c['asked']} asked, {c['answered_ratio']:.0%} answered")
    if args.json:
        _out(json.dumps(report, ensure_ascii=False, indent=1, default=str))
    if args.to:
        write_table(Path(args.to), report_sheets(report), untrusted=True)
        _out(f"written to {args.to}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qa", description="Policy Q&A: build the index, ask, serve.")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build the index from a corpus (skipped when up to date)")
    b.add_argument("--corpus", help="corpus folder (default: QA_CORPUS_DIR or ./corpus)")
    b.add_argument("--index", help="index folder (default: QA_INDEX_DIR or ./index)")
    b.add_argument("--force", action="store_true", help="rebuild even when corpus and model are unchanged")
    b.set_defaults(func=cmd_build)

    a = sub.add_parser("ask", help="answer one question from the command line")
    a.add_argument("question")
    a.add_argument("--k", type=int, default=5, help="how many hits (1..50)")
    a.add_argument("--json", action="store_true", help="print exactly the /v1/search response body")
    a.add_argument("--index", help="index folder")
    a.add_argument("--corpus", help="corpus folder the index must match")
    a.set_defaults(func=cmd_ask)

    s = sub.add_parser("serve", help="serve the API on one port")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--index", help="index folder")
    s.add_argument("--corpus", help="corpus folder")
    s.add_argument("--build", action="store_true", help="build the index first if it is missing or stale")
    s.add_argument("--watch", action="store_true", help="swap in each new build as `qa build` makes it current")
    s.add_argument("--workers", type=int, help="processes sharing the port, each with the model and index loaded "
                                               "(default 1; QA_WORKERS)")
    s.set_defaults(func=cmd_serve)

    e = sub.add_parser("eval", help="run the gold set, write reports, compare with the baseline")
    e.add_argument("--index", help="index folder (default: the current build)")
    e.add_argument("--set", help="gold set file or folder (default: eval/gold)")
    e.add_argument("--corpus", help="evaluate this corpus folder (built into its own index if needed)")
    e.add_argument("--build", action="store_true", help="build the index first if it is missing or stale")
    e.add_argument("--ablate", action="store_true", help="also rank lexical-only and dense-only")
    e.add_argument("--baseline", help="baseline file (default: eval/baseline.json)")
    e.add_argument("--save-baseline", action="store_true", help="make this run the new baseline")
    e.add_argument("--tolerance", type=float, default=0.01, help="allowed drop before the gate fails (0.01 = 1 point)")
    e.add_argument("--reports", help="folder for report folders (default: eval/reports)")
    e.set_defaults(func=cmd_eval)

    r = sub.add_parser("report", help="editors' reports from what residents asked").add_subparsers(
        dest="report_command", required=True)
    for name, text in (("unanswered", "unanswered questions grouped by meaning, and the entries with the most 👎"),
                       ("top", "most asked questions and entries, answered ratio by category and by day")):
        rp = r.add_parser(name, help=text)
        rp.add_argument("--since", help="only from this date (YYYY-MM-DD)")
        rp.add_argument("--to", help="also write the report to FILE.xlsx (or .csv: first sheet)")
        rp.add_argument("--json", action="store_true", help="also print the report as JSON")
        rp.add_argument("--index", help="index folder, to name the entries")
        rp.set_defaults(func=cmd_report)

    so = sub.add_parser("soak", help="drive qa serve with real questions at high concurrency; fail on 5xx, "
                                     "dropped connections or memory growth")
    so.add_argument("--seconds", type=float, default=300.0, help="how long (default 300)")
    so.add_argument("--concurrency", type=int, default=64, help="requests in flight (default 64)")
    so.add_argument("--url", help="a server already running on this machine (default: start one)")
    so.add_argument("--pid", type=int, help="with --url: the server's process id, to watch its memory")
    so.add_argument("--out", help="also write the figures as JSON to this file")
    so.add_argument("--workers", type=int, default=1, help="workers of the server it starts (default 1)")
    so.set_defaults(func=cmd_soak)

    be = sub.add_parser("bench", help="speed, scale and quality against peers on this machine (make bench)")
    be.add_argument("--million", action="store_true", help="also the 1,000,000-entry synthetic corpus (about 2 hours "
                                                          "the first time on 2 cores: 4 million phrasings to embed)")
    be.add_argument("--sizes", type=int, nargs="+", help="synthetic corpus sizes instead of 7,800 and 100,000")
    be.add_argument("--no-http", dest="http", action="store_false", help="skip the load test (needs wrk)")
    be.add_argument("--no-txtai", dest="txtai", action="store_false", help="skip the txtai peer (its own venv)")
    be.add_argument("--out", default=str(REPO_ROOT / "eval" / "bench"), help="where results.json/.md go")
    be.add_argument("--work", default=str(REPO_ROOT / "var" / "bench"), help="synthetic corpora, indexes, venvs")
    be.set_defaults(func=cmd_bench)

    k = sub.add_parser("keys", help="API keys for enterprise widgets: add, list, revoke").add_subparsers(
        dest="keys_command", required=True)
    ka = k.add_parser("add", help="create a key (printed once) for a site's origins and categories")
    ka.add_argument("name", help="who the key is for, e.g. the company")
    ka.add_argument("--origin", action="append", default=[], required=True,
                    help="https://www.example.com where the widget runs (repeatable; '*' for a server)")
    ka.add_argument("--category", action="append", default=[], help="only these categories (repeatable; default all)")
    ka.add_argument("--per-minute", type=int, help="calls per minute for all the site's visitors together")
    ka.set_defaults(func=cmd_keys)
    k.add_parser("list", help="keys, their origins, categories and rates").set_defaults(func=cmd_keys)
    kr = k.add_parser("revoke", help="stop accepting a key")
    kr.add_argument("name")
    kr.set_defaults(func=cmd_keys)

    c = sub.add_parser("corpus", help="check, import, export and compare corpora").add_subparsers(
        dest="corpus_command", required=True)
    v = c.add_parser("validate", help="report every problem with file, line and field")
    v.add_argument("dir", nargs="?")
    v.add_argument("--fast", action="store_true", help="skip the near-duplicate check (needs the model)")
    v.set_defaults(func=cmd_validate)
    st = c.add_parser("stats", help="counts per category and audience, alternates, answer lengths")
    st.add_argument("dir", nargs="?")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_stats)
    im = c.add_parser("import", help="import entries from .xlsx/.csv/.jsonl into a corpus folder (all or nothing)")
    im.add_argument("file")
    im.add_argument("--into", required=True, help="corpus folder to create or replace")
    im.set_defaults(func=cmd_import)
    ex = c.add_parser("export", help="export a corpus to .xlsx (entries, categories, policies), .csv or .jsonl")
    ex.add_argument("dir", nargs="?")
    ex.add_argument("--to", required=True, help="FILE.xlsx, FILE.csv or FILE.jsonl")
    ex.set_defaults(func=cmd_export)
    sy = c.add_parser("synth", help="a SYNTHETIC corpus of N entries for benchmarks: the real entries plus "
                                    "recombined variations of them (never serve it)")
    sy.add_argument("dir", nargs="?", help="corpus to model it on (default: QA_CORPUS_DIR or ./corpus)")
    sy.add_argument("--n", type=int, required=True, help="entries in all, real ones included")
    sy.add_argument("--out", required=True, help="new folder to write")
    sy.add_argument("--seed", type=int, default=7, help="random seed (same seed, same corpus)")
    sy.set_defaults(func=cmd_synth)
    df = c.add_parser("diff", help="entries added, removed and changed between two corpus folders")
    df.add_argument("old")
    df.add_argument("new")
    df.set_defaults(func=cmd_diff)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CorpusInvalid as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except QAError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
