"""Record what the product answers, to show that a change left behaviour as it was.

    .venv/bin/python benchmarks/behaviour_snapshot.py --out /tmp/before.json
    (change the code)
    .venv/bin/python benchmarks/behaviour_snapshot.py --out /tmp/after.json --compare /tmp/before.json

For every question of the question set (default ``eval/dev_questions.yaml``) it records
``rag search --json`` and ``rag ask --json`` output in each retrieval mode, through the
public Python API, and the per-question results of ``rag eval --mode all --json`` (run
as a command, timings left out). With ``--compare`` it prints every difference: a
score that moved by more than 1e-6, any other changed value, and a summary line. It
prints figures and differences; it never fails a build.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
MODES = ("hybrid", "dense", "bm25")
TOLERANCE = 1e-6
_TIMINGS = {"retrieval_ms", "answer_ms", "retrieval_p50_ms", "retrieval_p95_ms",
            "answer_p50_ms", "answer_p95_ms"}


def _questions(path: Path) -> list[tuple[str, str]]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw = raw["questions"] if isinstance(raw, dict) else raw
    return [(str(q["id"]), " ".join(q["question"].split())) for q in raw]


def _drop_timings(value):
    if isinstance(value, dict):
        return {k: _drop_timings(v) for k, v in value.items() if k not in _TIMINGS}
    if isinstance(value, list):
        return [_drop_timings(v) for v in value]
    return value


def snapshot(index_dir: Path, questions_file: Path) -> dict:
    import rag

    index = rag.load_index(index_dir, rag.load_config(REPO / "rag.yaml"))
    out: dict = {"search": {}, "ask": {}}
    for qid, question in _questions(questions_file):
        for mode in MODES:
            key = f"{qid}/{mode}"
            out["search"][key] = [h.to_dict() for h in index.retrieve(question, 5, mode=mode)]
            out["ask"][key] = index.answer(question, None, mode=mode).to_dict()
    run = subprocess.run([str(REPO / ".venv" / "bin" / "rag"), "eval", str(questions_file),
                          "--index", str(index_dir), "--mode", "all", "--json"],
                         capture_output=True, text=True, cwd=REPO, check=True)
    out["eval"] = _drop_timings(json.loads(run.stdout))
    return out


def differences(before, after, path: str = "") -> list[str]:
    """Every place where two snapshots differ (scores beyond TOLERANCE)."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in sorted(set(before) | set(after), key=str):
            where = f"{path}/{key}"
            if key not in before or key not in after:
                out.append(f"{where}: only in {'after' if key in after else 'before'}")
            else:
                out.extend(differences(before[key], after[key], where))
        return out
    if isinstance(before, list) and isinstance(after, list):
        if len(before) != len(after):
            return [f"{path}: {len(before)} items before, {len(after)} after"]
        return [d for i, (a, b) in enumerate(zip(before, after))
                for d in differences(a, b, f"{path}[{i}]")]
    if isinstance(before, float) or isinstance(after, float):
        if isinstance(before, (int, float)) and isinstance(after, (int, float)) \
                and abs(before - after) <= TOLERANCE:
            return []
    if before != after:
        return [f"{path}: {before!r} -> {after!r}"]
    return []


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", default=str(REPO / "index"), help="index folder (default: index/)")
    p.add_argument("--questions", default=str(REPO / "eval" / "dev_questions.yaml"))
    p.add_argument("--out", required=True, help="JSON file to write the snapshot to")
    p.add_argument("--compare", help="an earlier snapshot to compare with")
    args = p.parse_args()
    snap = snapshot(Path(args.index), Path(args.questions))
    Path(args.out).write_text(json.dumps(snap, indent=1, ensure_ascii=False), encoding="utf-8")
    counts = {part: len(snap[part]) for part in ("search", "ask")}
    print(f"snapshot: {counts['search']} searches, {counts['ask']} answers -> {args.out}")
    if args.compare:
        before = json.loads(Path(args.compare).read_text(encoding="utf-8"))
        found = differences(before, snap)
        for line in found:
            print(line)
        print(f"differences: {len(found)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
