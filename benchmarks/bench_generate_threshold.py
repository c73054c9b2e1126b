"""Where rag.generate's similarity threshold sits among real sentence pairs.

Embeds sentences of the seed releases with the bundled model and prints percentiles
of the cosine similarity for three kinds of (sentence, quote) pairs:

- ``restated``: the first 60% of a quote's words, against the quote (a condensed
  restatement, as a model writes it);
- ``same release``: another sentence of the same release (on topic, another claim);
- ``other release``: a sentence of another release.

A threshold (``rag.generate.DEFAULT_MIN_SIMILARITY``) should pass nearly all restated
pairs and few of the others. Prints figures; never passes or fails.

    .venv/bin/python benchmarks/bench_generate_threshold.py [--releases 60]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np

from rag.config import ModelConfig
from rag.model.transformer import load_embedder
from rag.generate import DEFAULT_MIN_SIMILARITY
from rag.ingest.releases import load_releases
from rag.ingest.sentences import passage_sentences

REPO = Path(__file__).resolve().parent.parent
THRESHOLDS = sorted({0.35, 0.45, 0.55, 0.65, DEFAULT_MIN_SIMILARITY})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=Path, default=REPO / "seeds")
    parser.add_argument("--releases", type=int, default=60)
    args = parser.parse_args()
    rng = random.Random(0)
    releases = load_releases(args.seeds).releases
    releases = rng.sample(releases, min(args.releases, len(releases)))
    per_release = []
    for release in releases:
        sentences = [release.body[s:e] for s, e in passage_sentences(release.body)]
        sentences = [s for s in sentences if 12 <= len(s.split()) <= 60]
        if len(sentences) >= 2:
            per_release.append(rng.sample(sentences, 2))
    quotes = [pair[0] for pair in per_release]
    restated = [" ".join(q.split()[:max(6, int(len(q.split()) * 0.6))]) for q in quotes]
    same = [pair[1] for pair in per_release]
    other = [per_release[(i + 1) % len(per_release)][1] for i in range(len(per_release))]
    model = load_embedder(ModelConfig())
    q = model.embed(quotes)
    kinds = {"restated": model.embed(restated), "same release": model.embed(same),
             "other release": model.embed(other)}
    print(f"pairs: {len(quotes)}  threshold: {DEFAULT_MIN_SIMILARITY}")
    for name, vectors in kinds.items():
        scores = np.sum(vectors * q, axis=1)
        p5, p25, p50, p75, p95 = np.percentile(scores, [5, 25, 50, 75, 95])
        rates = "  ".join(f"{t:.2f}: {np.mean(scores >= t):.0%}" for t in THRESHOLDS)
        print(f"{name:14s} p5 {p5:.2f}  p25 {p25:.2f}  median {p50:.2f}  p75 {p75:.2f}  "
              f"p95 {p95:.2f}  passing at {rates}")


if __name__ == "__main__":
    main()
