"""How long hostile input takes: pathological release bodies and odd questions.

    .venv/bin/python benchmarks/bench_hostile.py

These were once wall-clock bounds inside tests (20 s for a pathological body, 2 s for
an odd question), which a loaded two-core machine can break without any regression;
here they are printed instead, each beside a plain release or question measured in the
same run, as a ratio. The inputs are the ones tests/test_reliability.py feeds in.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from conftest import FakeEmbedder, write_release  # noqa: E402
from test_reliability import COVID, ENERGY, HOSTILE, NATO, ODD_QUESTIONS  # noqa: E402

from rag import load_index  # noqa: E402
from rag.config import ChunkConfig, config_from_dict  # noqa: E402
from rag.errors import QuestionError  # noqa: E402
from rag.index.build import build_index  # noqa: E402
from rag.ingest.chunking import chunk_release  # noqa: E402
from rag.ingest.releases import read_release  # noqa: E402

BODIES = {
    "unclosed link texts": "[" * 300_000,
    "unclosed image texts": "![" * 150_000,
    "tables never closed": "<table " * 40_000,
    "rows never closed": "<table><tr " + "<tr " * 70_000 + "</table>",
    "run of dots": "." * 300_000 + " and so on",
}
UNUSABLE = {"empty": "", "100,000 characters": "x" * 100_000}


def _seconds(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main() -> int:
    embedder = FakeEmbedder()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        plain = " ".join(["A plain sentence about ports and grain."] * 7_000)

        def read_and_chunk(body: str):
            path = write_release(root / "bodies", "r.md", "R", "2022-03-01", body + "\n\nThe end.")
            release = read_release(path, root / "bodies")
            chunk_release(release, ChunkConfig(max_tokens=64), embedder.count_tokens)

        base = _seconds(lambda: read_and_chunk(plain))
        print(f"plain body of {len(plain):,} characters: {base:.3f} s")
        for name, body in BODIES.items():
            took = _seconds(lambda b=body: read_and_chunk(b))
            print(f"{name} ({len(body):,} characters): {took:.3f} s ({took / base:.1f}x plain)")

        seeds = root / "seeds"
        for rel, title, date, text in (("a/nato.md", "NATO summit statement", "2022-03-24", NATO),
                                       ("a/covid.md", "Free COVID tests", "2022-03-02", COVID),
                                       ("a/oil.md", "Oil reserve release", "2022-03-31", ENERGY),
                                       ("test/hostile.md", "Hostile test release", "2022-03-15",
                                        HOSTILE)):
            write_release(seeds, rel, title, date, text)
        config = config_from_dict({"seeds": str(seeds), "index": str(root / "index"),
                                   "chunking": {"max_tokens": 40, "header_tokens": 16}}, root)
        build_index(config, embedder, progress=False)
        index = load_index(config.index, config, embedder)

        def ask(question: str):
            try:
                index.retrieve(question)
                index.answer(question)
            except QuestionError:
                pass

        base = min(_seconds(lambda: ask("Which countries received new battle groups?"))
                   for _ in range(5))
        print(f"plain question (retrieve + answer): {base * 1000:.1f} ms")
        for name, question in {**ODD_QUESTIONS, **UNUSABLE}.items():
            took = min(_seconds(lambda q=question: ask(q)) for _ in range(3))
            print(f"question {name}: {took * 1000:.1f} ms ({took / base:.1f}x plain)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
