"""Benchmark lexical first: from nothing to the first answered question, and what it costs.

Two parts, in one run (the machine is shared and noisy: compare figures of one run):

1. The corpus (``--seeds``, default the full biden-era corpus) into a fresh index folder
   under ``--work``: seconds from the start of this script (before the package is
   imported) to the lexical generation published, and to the first question answered
   by a separate ``rag ask`` process started at that moment (while this process goes
   on embedding, as a user's second terminal would). The build's own stage times
   (read, chunk, tables, BM25, write) say where the time goes. With ``--hybrid`` the
   embedding runs to the end and the whole build's seconds are printed; without it
   the build is stopped after the first answer (the folder is left lexical, with its
   embedding cache).
2. ``--compare`` (default ``seeds/``): the whole build lexical-first against the
   one-step build (``--no-lexical-first``), each into a fresh folder, in this process,
   and their ratio.

Commands (from the repository root)::

    .venv/bin/python benchmarks/bench_first_answer.py
    .venv/bin/python benchmarks/bench_first_answer.py --hybrid --json
    .venv/bin/python benchmarks/bench_first_answer.py --seeds seeds --work /tmp/bench-first
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()  # "from nothing": before numpy, the package or the model
CPU_STARTED = time.process_time()

import argparse  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_common import print_figures  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus" / "whitehouse" / "biden-era"
QUESTION = "How many barrels of oil per day will be released from the Strategic Petroleum Reserve?"


class Stop(Exception):
    """Raised from the publish callback to end the build after the first answer."""


def first_answer(seeds: Path, index: Path, hybrid: bool) -> dict[str, object]:
    from rag.config import load_config
    from rag.index.build import build_index
    from rag.model.transformer import load_embedder

    config = load_config(REPO / "rag.yaml").replace(seeds=seeds.resolve(), index=index)
    embedder = load_embedder(config.model)
    model_loaded = time.perf_counter() - STARTED
    figures: dict[str, object] = {"model loaded s": round(model_loaded, 1)}

    def published(partial) -> None:
        figures["lexical published s"] = round(time.perf_counter() - STARTED, 1)
        # CPU seconds of this process: what the wall time would be on an idle machine
        # (the stages are single-threaded), however busy the shared machine is.
        figures["lexical published cpu s"] = round(time.process_time() - CPU_STARTED, 1)
        figures["lexical stages s"] = {k: round(v, 1) for k, v in partial.stages.items()}
        figures["passages"] = partial.passages
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        ask = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "rag.cli", "--config", str(REPO / "rag.yaml"), "ask",
             QUESTION, "--index", str(index)], capture_output=True, text=True, cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)})
        figures["rag ask s (fresh process)"] = round(time.perf_counter() - ask, 1)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        figures["rag ask cpu s"] = round(after.ru_utime + after.ru_stime
                                         - before.ru_utime - before.ru_stime, 1)
        figures["first answer s"] = round(time.perf_counter() - STARTED, 1)
        figures["first answer ok"] = done.returncode == 0 and "[1]" in done.stdout
        figures["first answer"] = done.stdout.strip().splitlines()[0][:160] if done.stdout \
            else done.stderr.strip()[-200:]
        figures["rag ask note"] = done.stderr.strip().splitlines()[0][:120] if done.stderr \
            else ""
        if not hybrid:
            raise Stop

    try:
        report = build_index(config, embedder, progress=False, lexical_first=True,
                             on_lexical=published)
    except Stop:
        report = None
    if report is not None:
        figures["hybrid published s"] = round(time.perf_counter() - STARTED, 1)
        figures["build s (BuildReport.seconds)"] = round(report.seconds, 1)
        figures["stages s"] = {k: round(v, 1) for k, v in report.stages.items()}
    return figures


def compare(seeds: Path, work: Path) -> dict[str, object]:
    """Both builds twice, in the order A B B A, so a change of load mid-run weighs on
    both alike; the ratio is of the summed times."""
    from rag.config import load_config
    from rag.index.build import build_index
    from rag.model.transformer import load_embedder

    config = load_config(REPO / "rag.yaml")
    embedder = load_embedder(config.model)
    figures: dict[str, object] = {}
    totals = {"one-step": 0.0, "lexical-first": 0.0}
    for round_, name in enumerate(("one-step", "lexical-first", "lexical-first", "one-step")):
        index = work / f"compare-{name}"
        shutil.rmtree(index, ignore_errors=True)
        cfg = config.replace(seeds=seeds.resolve(), index=index)
        published: list[float] = []
        started = time.perf_counter()
        report = build_index(cfg, embedder, progress=False, lexical_first=name != "one-step",
                             on_lexical=lambda _: published.append(time.perf_counter()))
        seconds = time.perf_counter() - started
        totals[name] += seconds
        figures[f"{name} build s (round {round_ + 1})"] = round(seconds, 1)
        if published:
            figures[f"{name} lexical published s (round {round_ + 1})"] = round(
                published[0] - started, 1)
        figures[f"{name} stages s (round {round_ + 1})"] = {
            k: round(v, 1) for k, v in report.stages.items()}
    figures["ratio lexical-first / one-step"] = round(
        totals["lexical-first"] / totals["one-step"], 3)
    return figures


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=Path, default=CORPUS, help="corpus for the first answer")
    p.add_argument("--work", type=Path, default=Path("/work/bench/lexfirst"),
                   help="folder for the fresh index folders (created; old ones replaced)")
    p.add_argument("--compare", type=Path, default=REPO / "seeds",
                   help="folder built both ways for the ratio")
    p.add_argument("--hybrid", action="store_true",
                   help="let the corpus's embedding run to the end (about 30 minutes in full)")
    p.add_argument("--skip-compare", action="store_true")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    index = args.work / "first-answer"
    shutil.rmtree(index, ignore_errors=True)
    figures: dict[str, object] = {"load average before": round(os.getloadavg()[0], 2),
                                  "corpus": str(args.seeds)}
    figures.update(first_answer(args.seeds, index, args.hybrid))
    figures["load average after first answer"] = round(os.getloadavg()[0], 2)
    if not args.skip_compare:
        figures.update(compare(args.compare, args.work))
        figures["load average after compare"] = round(os.getloadavg()[0], 2)
    print_figures(figures, args.json)


if __name__ == "__main__":
    main()
