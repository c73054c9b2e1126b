"""Benchmark "what changed" (``Index.diff``) on a built index: latency and what it finds.

Runs ten realistic subjects, each compared across two windows (by default 2022 and
2023), after one warm-up diff, and prints per subject the seconds and the counts
(kept / reworded / dropped / new), then the p50/p95/max latency in ms and the total
counts. ``--repeat`` times each subject several times (latency over all runs);
``--show N`` prints the text listing of subject N (1-based) at the end.

Commands (from the repository root)::

    .venv/bin/python benchmarks/bench_diff.py --index /work/bench/idx-full
    .venv/bin/python benchmarks/bench_diff.py --index index --a "February 2022" --b "March 2022"
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import rag  # noqa: E402
from bench_common import positive, print_figures  # noqa: E402
from rag.query.diff_print import format_diff  # noqa: E402

SUBJECTS = [
    "NATO battle groups",
    "sanctions on Russia",
    "security assistance to Ukraine",
    "student debt relief",
    "the Bipartisan Infrastructure Law",
    "inflation and gas prices",
    "the CHIPS and Science Act",
    "COVID-19 vaccines and boosters",
    "climate change and clean energy",
    "the southern border and migration",
]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--index", required=True, help="a built index folder (read only)")
    p.add_argument("--a", default="2022", help="window A (default: 2022)")
    p.add_argument("--b", default="2023", help="window B (default: 2023)")
    p.add_argument("--repeat", type=positive, default=1, help="runs per subject (default: 1)")
    p.add_argument("--show", type=int, default=0, help="print the listing of subject N")
    p.add_argument("--json", action="store_true", help="one JSON object of figures")
    args = p.parse_args(argv)

    started = time.perf_counter()
    index = rag.load_index(args.index)
    load_s = time.perf_counter() - started
    index.diff("warm up", args.a, args.b)
    seconds, totals, shown = [], dict.fromkeys(("kept", "reworded", "dropped", "new"), 0), None
    for number, subject in enumerate(SUBJECTS, 1):
        for _ in range(args.repeat):
            t = time.perf_counter()
            result = index.diff(subject, args.a, args.b)
            seconds.append(time.perf_counter() - t)
        counts = result.counts
        for status, n in counts.items():
            totals[status] += n
        if not args.json:
            print(f"{subject:38s} {seconds[-1]:6.2f} s  " + "  ".join(
                f"{status} {n:2d}" for status, n in counts.items()))
        if number == args.show:
            shown = result
    ms = np.array(seconds) * 1000
    print_figures({"releases": index.release_count, "load_s": round(load_s, 1),
                   "diffs": len(seconds), "window_a": args.a, "window_b": args.b,
                   "diff_p50_ms": round(float(np.percentile(ms, 50)), 1),
                   "diff_p95_ms": round(float(np.percentile(ms, 95)), 1),
                   "diff_max_ms": round(float(ms.max()), 1),
                   **{f"total_{status}": n for status, n in totals.items()}}, args.json)
    if shown is not None and not args.json:
        print("\n" + format_diff(shown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
