"""The ``rag`` command: build, search and serve."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from typing import Any

from .config import ENGINES, MODES, Config, load_config
from .errors import ConfigError, RagError
from .version import __version__

# Exit statuses: 0 done; 1 error (nothing changed); 2 bad command line (argparse);
# 3 index built, but some release files were skipped (listed in the output).
EXIT_OK, EXIT_ERROR, EXIT_SKIPPED = 0, 1, 3


def _config(args: argparse.Namespace) -> Config:
    config = load_config(args.config)
    changes = {}
    if getattr(args, "seeds", None):
        changes["seeds"] = Path(args.seeds).resolve()
    if getattr(args, "index", None):
        changes["index"] = Path(args.index).resolve()
    return config.replace(**changes) if changes else config


def _embedder(config: Config):
    from .model.transformer import load_embedder

    return load_embedder(config.model)


def _engine(args: argparse.Namespace, config: Config):
    """The build engine ``--engine``/``build.engine`` names (None: the local one)."""
    name = args.engine or config.build.engine
    if name != "ray":
        if args.address:
            raise ConfigError(f"--address {args.address} is the Ray cluster to build on; "
                              "it needs --engine ray (or build.engine: ray)")
        return None
    from .index.ray_engine import RayEngine

    return RayEngine(config.model, config.chunking,
                     address=args.address or config.build.ray_address,
                     actors=config.build.ray_actors)


def cmd_index(args: argparse.Namespace) -> int:
    from .index.build import build_index

    config = _config(args)
    if args.rollback:
        from .index.serving import rollback

        print(f"serving {rollback(config)} again (store.backend {config.store.backend})")
        return EXIT_OK
    engine = _engine(args, config)  # before the model: a missing Ray is said at once
    try:
        embedder = _embedder(config)
        report = build_index(config, embedder, full=args.full, progress=not args.quiet,
                             lock_wait=args.wait, engine=engine,
                             lexical_first=args.lexical_first, on_lexical=_print_searchable)
        print(report.summary())
        if args.watch:
            _watch(config, embedder, args.interval, engine)
    finally:
        if engine is not None:
            engine.close()
    return EXIT_SKIPPED if report.skipped else EXIT_OK


def _print_searchable(report) -> None:
    print(f"searchable now with BM25 (lexical generation {report.lexical_path.name}, after "
          f"{report.lexical_seconds:.0f} s): `rag search` and "
          "`rag ask` answer while the passages are embedded; the hybrid index replaces it "
          "when that is done", flush=True)


def _watch(config: Config, embedder, interval: float, engine=None) -> None:
    from .index import store
    from .index.build import build_index
    from .index.staleness import check_staleness

    print(f"watching {config.seeds} every {interval:g} s (Ctrl-C to stop)", flush=True)
    while True:
        time.sleep(interval)
        try:
            manifest = store.read_manifest(store.resolve(config.index))
            if not check_staleness(manifest, config.seeds).stale:
                continue
            print(build_index(config, embedder, progress=False, lock_wait=60,
                              engine=engine).summary(), flush=True)
        except RagError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)


def _open_index(args: argparse.Namespace):
    from . import load_index

    config = _config(args)
    index = load_index(config.index, config, _embedder(config))
    # An index named by --index is compared with the folder it was built from (its
    # manifest says which), not with the configured seeds folder.
    own = bool(getattr(args, "index", None))
    seeds = Path(index.manifest.seeds) if own else config.seeds
    note = index.generation_note()
    if note:
        print(f"note: {note}; dense and hybrid search wait for the embedding", file=sys.stderr)
    stale = index.staleness(seeds)
    if stale.stale:
        command = f"rag index --seeds {seeds} --index {config.index}" if own else "rag index"
        print(f"warning: the index is stale ({stale.describe()} release files in "
              f"{seeds}); run `{command}` to update it", file=sys.stderr)
    return config, index


def _filters(args: argparse.Namespace) -> dict:
    return {"mode": args.mode, "since": args.since, "until": args.until,
            "category": args.category}


def _window_line(window) -> str:
    if window.text == "filter":
        return f"(dates: {window.describe()})"
    return f"(dates: {window.describe()}, from the question: {window.text!r})"


def cmd_search(args: argparse.Namespace) -> int:
    config, index = _open_index(args)
    turn = _question(args)
    if turn.rewritten and not args.json:
        print(f"Searching: {turn.text}\n")
    result = index.search(turn.text, args.top_k, **_filters(args))
    hits = result.hits
    if args.json:
        print(json.dumps([h.to_dict() for h in hits], ensure_ascii=False, indent=2))
        return EXIT_OK
    if result.window is not None:
        print(_window_line(result.window) + "\n")
    for h in hits:
        print(f"{h.rank}. [{h.score:.3f}] {h.title} ({h.date.isoformat()})\n   {h.url}")
        print("   " + h.text.replace("\n\n", "\n   ") + "\n")
    if not hits:
        print("no passages match")
    return EXIT_OK


def _print_generated(answer) -> None:
    """The checked generated answer (or the extracted one), a mark per sentence, the
    dropped sentences with why, the note, and the quotes they were checked against."""
    from .query.generated import shown_text

    generated = answer.generated
    print(shown_text(answer, generated) if generated.generated else answer.text)
    if generated.sentences:
        print("\nGenerated sentences (checked against the quotes they cite):")
        for s in generated.sentences:
            mark = "✓" if s.supported else "✗ dropped:"
            print(f"  {mark} {s.text}\n      ({s.why})")
    print(f"\nNote: {generated.note}")
    if answer.quotes:
        print("\nQuotes:")
        for number, q in enumerate(answer.quotes, 1):
            print(f"  Q{number} [{q.source}] {q.text}")


def _question(args: argparse.Namespace):
    """The question to answer: a follow-up of --previous rewritten into a standalone one."""
    from .query.followup import rewrite

    return rewrite(args.question, getattr(args, "previous", None))


def _bold():
    """Bold for the thing asked for: ANSI on a terminal, **Markdown** when the output goes
    to a file or another program."""
    return (lambda t: f"\033[1m{t}\033[0m") if sys.stdout.isatty() else (lambda t: f"**{t}**")


def _print_collection(collection) -> None:
    """The count line, the distinct items, and the timeline: a row per release."""
    bold = _bold()
    print(collection.count_line)
    if collection.date_window is not None:
        print(_window_line(collection.date_window))
    if collection.items:
        print("\nItems: " + "; ".join(f"{bold(i.text)} ({len(i.releases)})"
                                      for i in collection.items))
    for row in collection.rows:
        text = "".join(bold(t) if span else t for t, span in row.pieces())
        print(f"\n{row.date.isoformat()}  {row.title} ({row.category})\n    "
              + text.replace("\n\n", "\n    ") + f"\n    {row.link or '(no url)'}")


def cmd_ask(args: argparse.Namespace) -> int:
    _, index = _open_index(args)
    turn = _question(args)
    if args.collect and not args.generate:
        # Forced on: the collection is the answer (``--json`` prints exactly its to_dict).
        collection = index.collect(turn.text, **_filters(args))
        if args.json:
            print(json.dumps(collection.to_dict(), ensure_ascii=False, indent=2))
            return EXIT_OK
        if turn.rewritten:
            print(f"Answering: {turn.text}\n")
        _print_collection(collection)
        return EXIT_OK
    answer = index.answer(turn.text, args.top_k, generate=args.generate,
                          collect=args.collect, **_filters(args))
    if args.json:
        out = answer.to_dict()
        if args.previous is not None:
            out = {"question": turn.text, "rewritten": turn.rewritten, **out}
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return EXIT_OK
    if turn.rewritten:
        print(f"Answering: {turn.text}\n")
    if answer.generated is not None:
        _print_generated(answer)
    elif answer.abstained:
        print(answer.text)
    else:
        bold = _bold()  # the thing asked for (the name, the figure)
        print(" ".join(f"{q.marked(bold)} [{q.source}]" for q in answer.quotes))
    if answer.date_window is not None:
        print(_window_line(answer.date_window))
    print("\nSources:" if not answer.abstained else "\nNearest passages:")
    for s in answer.sources:
        mark = "*" if s.cited else " "
        print(f"{mark}[{s.number}] {s.hit.title} ({s.hit.date.isoformat()}, {s.hit.category})"
              f"\n     {s.link or '(no url)'}")
    if answer.collection is not None:
        print()
        _print_collection(answer.collection)
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    """``rag diff``: what changed on a subject between two windows (or two releases)."""
    from .query.diff import DiffSettings
    from .query.diff_print import format_diff

    _, index = _open_index(args)
    settings = DiffSettings(per_side=args.per_side, releases=args.releases)
    result = index.diff(args.subject, args.a, args.b, settings=settings, mode=args.mode,
                        category=args.category)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(format_diff(result))
    return EXIT_OK


def add_diff_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add ``rag diff`` to the CLI's sub-parsers (``common`` provides --config)."""
    d = subparsers.add_parser(
        "diff", parents=[common],
        help="what changed on a subject between two date windows or two releases",
        description="Either a question that names two windows (\"How did the description "
                    "of X change between 2022 and 2023?\") or a subject with --a and --b.")
    d.add_argument("subject", help="a question naming two windows, or the subject with --a/--b")
    for side in ("a", "b"):
        d.add_argument(f"--{side}", metavar="WHEN",
                       help=f"window {side.upper()}: 2022, 'March 2022', 'early 2023', "
                            "SINCE..UNTIL (YYYY-MM-DD, either side may be empty), "
                            "or a release id")
    d.add_argument("--per-side", type=int, default=12,
                   help="sentences shown per side, at most (default: 12)")
    d.add_argument("--releases", type=int, default=4,
                   help="best releases of each window whose sentences are used (default: 4)")
    d.add_argument("--json", action="store_true", help="print Diff.to_dict() as JSON")
    d.add_argument("--index", help="index folder (default from config: index/)")
    d.add_argument("--mode", choices=MODES, help="retrieval mode (default: hybrid)")
    d.add_argument("--category", help="only releases of this category")
    d.set_defaults(func=cmd_diff)


def add_eval_parser(subparsers: Any, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``rag eval`` to the CLI's sub-parsers (``common`` provides --config)."""
    e = subparsers.add_parser(
        "eval", parents=[common],
        help="measure retrieval and answers on a question set, or on a BEIR folder")
    e.add_argument("questions", nargs="?", help="YAML question set (e.g. eval/dev_questions.yaml)")
    e.add_argument("--beir", metavar="DIR",
                   help="BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv) instead")
    e.add_argument("--index", help="index folder (default from config: index/)")
    e.add_argument("--mode", choices=[*MODES, "all"],
                   help="retrieval mode, or all three side by side (default from config)")
    e.add_argument("--calibrate", action="store_true",
                   help="also print the abstention threshold sweep (for answer.min_score)")
    e.add_argument("--splits", action="store_true",
                   help="also print figures for the tune and test parts of the set (always "
                        "shown, per question type, for a typed set such as tune.yaml)")
    e.add_argument("--json", action="store_true", help="print JSON")
    e.set_defaults(func=cmd_eval)
    return e


def cmd_eval(args: argparse.Namespace) -> int:
    """Run ``rag eval``; prints a table (or JSON) and returns the exit code."""
    from . import load_index
    from .eval.questions import load_questions
    from .eval.run import calibrate, evaluate, format_table
    from .eval.typed import is_typed

    if bool(args.questions) == bool(args.beir):
        raise ConfigError("give a question file or --beir DIR (one of them): "
                          "`rag eval eval/dev_questions.yaml` or `rag eval --beir DIR`")
    config = _config(args)
    mode = getattr(args, "mode", None)
    modes = list(MODES) if mode == "all" else [mode or config.retrieval.mode]
    if args.beir:
        from .eval.beir import evaluate_beir

        results = evaluate_beir(args.beir, config, _embedder(config), modes)
        print(json.dumps(results, indent=2) if args.json else format_table(results))
        return 0
    index = load_index(config.index, config, _embedder(config))
    if is_typed(Path(args.questions)):
        return _eval_typed(args, index, modes)
    questions = load_questions(args.questions)
    reports = [evaluate(index, questions, m) for m in modes]
    if args.json:
        out: dict[str, Any] = {r.mode: r.to_dict() for r in reports}
        if args.calibrate:
            out["calibration"] = {r.mode: calibrate(r.results) for r in reports}
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    if len(reports) == 1:
        print(reports[0].format())
    else:
        print(format_table({r.mode: r.metrics() for r in reports}))
    if args.calibrate:
        for r in reports:
            print(f"\nabstention threshold sweep ({r.mode}; current answer.min_score "
                  f"{config.answer.min_score:g}):\n"
                  f"{'threshold':>10} {'answerable abstained':>21} {'unanswerable answered':>22}")
            for threshold, abstained, answered in calibrate(r.results):
                print(f"{threshold:>10.4f} {abstained:>21} {answered:>22}")
    for m in modes if args.splits else ():
        print(f"\nby split ({m}; the split is fixed by each question's id, "
              "rag/eval/sets.py):")
        _print_typed(index, Path(args.questions), m)
    return 0


def _print_typed(index, path: Path, mode: str) -> dict:
    from .eval.sets import aggregate, format_report
    from .eval.typed import evaluate_typed, load_any

    questions = load_any(path)
    scores, _, missing = evaluate_typed(index, questions, mode)
    report = aggregate(scores)
    print(format_report(report))
    if missing:
        print(f"gold release not in the index for {len(missing)} question(s)")
    _print_collect(index, questions, mode)
    return {split: {kind: f.to_dict() for kind, f in rows.items()}
            for split, rows in report.items()}


def _print_collect(index, questions, mode: str) -> dict | None:
    """Figures of the set's collect questions per split (None when it has none)."""
    from .eval.collected import collect_figures, format_collect_report
    from .eval.typed import evaluate_collect

    if not any(q.type == "collect" for q in questions):
        return None
    figures = collect_figures(evaluate_collect(index, questions, mode)[0])
    print("\n" + format_collect_report(figures))
    return figures


def _eval_typed(args: argparse.Namespace, index, modes: list[str]) -> int:
    """``rag eval`` on a typed question set (the tune.yaml format): figures per question
    type for its tune part, its test part and both."""
    from .eval.collected import collect_figures
    from .eval.sets import aggregate
    from .eval.typed import evaluate_collect, evaluate_typed, load_any

    questions = load_any(Path(args.questions))
    if args.json:
        out = {}
        for m in modes:
            scores, _, missing = evaluate_typed(index, questions, m)
            out[m] = {"splits": {split: {kind: f.to_dict() for kind, f in rows.items()}
                                 for split, rows in aggregate(scores).items()},
                      "gold_not_in_index": missing}
            if any(q.type == "collect" for q in questions):
                out[m]["collect"] = collect_figures(evaluate_collect(index, questions, m)[0])
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    for m in modes:
        print(f"{args.questions} ({m}):")
        _print_typed(index, Path(args.questions), m)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .web.server import serve

    config = _config(args)
    serve(config, _embedder(config), host=args.host, port=args.port)
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rag", description=__doc__)
    p.add_argument("--version", action="version", version=f"rag {__version__}")
    # --config is accepted before or after the command (`rag --config f search ...`,
    # `python app.py --config f`); SUPPRESS keeps the sub-parser from resetting it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS,
                        help="YAML settings file (default: ./rag.yaml if present)")
    p.add_argument("--config", default=None,
                   help="YAML settings file (default: ./rag.yaml if present)")
    sub = p.add_subparsers(dest="command", required=True)

    i = sub.add_parser("index", parents=[common],
                       help="build or update the index from the seeds folder")
    i.add_argument("--seeds", help="folder of release files (default from config: seeds/)")
    i.add_argument("--index", help="index folder (default from config: index/)")
    i.add_argument("--full", action="store_true", help="re-embed everything")
    i.add_argument("--watch", action="store_true",
                   help="keep watching the seeds folder and update after each change")
    i.add_argument("--interval", type=float, default=2.0, help="seconds between checks (--watch)")
    i.add_argument("--wait", type=float, default=0.0,
                   help="seconds to wait if another build holds the index (default: 0)")
    i.add_argument("--quiet", action="store_true", help="no progress bar")
    i.add_argument("--rollback", action="store_true",
                   help="serve the previous generation again (and its Qdrant collection, "
                        "with store.backend qdrant); the next build starts from it")
    i.add_argument("--engine", choices=ENGINES,
                   help="where releases are read, chunked and embedded: local (this process) "
                        "or ray (a Ray cluster; pip install .[ray]) (default from config: "
                        "build.engine, local)")
    i.add_argument("--address", metavar="ADDR",
                   help="the Ray cluster to build on (auto, HOST:6379, ray://HOST:10001); "
                        "without it, --engine ray starts Ray on this machine")
    i.add_argument("--lexical-first", action=argparse.BooleanOptionalAction, default=None,
                   help="publish a BM25-only index before embedding a large build, "
                        "searchable in minutes (default: build.lexical_first in the config)")
    i.set_defaults(func=cmd_index)

    for name, func, helptext in (
            ("search", cmd_search, "print the passages that best match a question"),
            ("ask", cmd_ask, "answer a question with sentences quoted from the releases")):
        s = sub.add_parser(name, parents=[common], help=helptext)
        s.add_argument("question")
        s.add_argument("--top-k", type=int, help="number of passages/sources (default: 5)")
        s.add_argument("--json", action="store_true", help="print JSON")
        s.add_argument("--index", help="index folder (default from config: index/)")
        s.add_argument("--mode", choices=MODES, help="retrieval mode (default: hybrid)")
        s.add_argument("--since", help="only releases dated on or after YYYY-MM-DD")
        s.add_argument("--until", help="only releases dated on or before YYYY-MM-DD")
        s.add_argument("--category", help="only releases of this category")
        if name == "ask":
            s.add_argument("--generate", action="store_true",
                           help="also have the language model of rag.yaml's llm section "
                                "answer from the quotes; only sentences they support are shown")
            s.add_argument("--collect", action=argparse.BooleanOptionalAction, default=None,
                           help="gather every release that answers, as a counted timeline "
                                "(--json: prints the collection only); --no-collect: never. "
                                "Default: chosen for questions asking for a set or a history "
                                "(\"which countries ...\", \"list\", \"every\", \"how often\")")
        s.add_argument("--previous", metavar="QUESTION",
                       help="the question asked before: a follow-up (\"And in 2024?\") "
                            "is rewritten from it")
        s.set_defaults(func=func)

    add_eval_parser(sub, common)
    add_diff_parser(sub, common)

    v = sub.add_parser("serve", parents=[common], help="start the web app")
    v.add_argument("--index", help="index folder (default from config: index/)")
    v.add_argument("--host", help="address to listen on (default from config: 127.0.0.1)")
    v.add_argument("--port", type=int, help="port (default from config: 7860)")
    v.set_defaults(func=cmd_serve)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        return args.func(args)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
