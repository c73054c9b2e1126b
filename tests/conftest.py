"""Shared test helpers: a tiny deterministic embedder and release-file makers."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import textwrap
from pathlib import Path
from typing import Sequence

import numpy as np
import pytest
from hypothesis import settings

from rag.config import Config, config_from_dict
from rag.model.embedder import ModelInfo
from rag.vectors import normalise

# CI (`.ci/run` sets CI=1) replays the same generated examples every run, so a red build
# means a change broke something, not that the search happened on a new input; local
# runs keep exploring new examples (a falsifying one goes into an @example).
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


class FakeEmbedder:
    """Bag of hashed words: texts sharing words get similar vectors. Counts what it embeds."""

    def __init__(self, dim: int = 64, max_tokens: int = 512):
        self.info = ModelInfo("fake/bag-of-words", dim, max_tokens, "float32", "")
        self.dim = dim
        self.embedded: list[str] = []

    def renamed(self, **changes) -> "FakeEmbedder":
        """This embedder with other ``info`` (another model id, variant ...)."""
        self.info = dataclasses.replace(self.info, **changes)
        return self

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(_TOKEN_RE.findall(t)) for t in texts]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                out[i, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        out[np.all(out == 0, axis=1), 0] = 1.0
        return normalise(out)

    def encode(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]):
        vectors = self.embed(texts)
        pooled = []
        for text, text_spans in zip(texts, spans):
            pieces = [text[s:e] for s, e in text_spans]
            pooled.append(self.embed(pieces) if pieces else np.zeros((0, self.dim), np.float32))
            del self.embedded[len(self.embedded) - len(pieces):]  # count passages only
        return vectors, pooled


def release_text(title: str = "A statement", date: str = "2022-03-24", body: str = "Text.",
                 *, category: str = "statements-releases", url: str | None = None,
                 keys: str = "original", extra: str = "") -> str:
    """The file content of a release, with either key set of the corpus."""
    slug = re.sub(r"\W+", "-", title.lower())
    url = url or f"https://www.whitehouse.gov/briefing-room/{slug}/"
    cat_key, url_key = ("category", "permalink") if keys == "original" else ("tags", "source_url")
    return (f"---\n{cat_key}: {category}\ndate: '{date}'\n"
            f"modified_time: {date} 09:29:48-04:00\n{url_key}: {url}\n"
            f"published_time: {date} 09:29:47-04:00\ntitle: {title}\n{extra}---\n"
            f"\u00a0\n{textwrap.dedent(body).strip()}\n\n\\###\n")


def write_release(root: Path, rel: str, *args, **kwargs) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(release_text(*args, **kwargs), encoding="utf-8")
    return path


NATO = """
NATO leaders met today on the one-month anniversary of Russia’s
unprovoked invasion of Ukraine. We discussed our work to bolster NATO’s
collective defense.

Today’s establishment of four new battle groups in Slovakia, Romania,
Bulgaria, and Hungary is a strong signal that we will defend every inch
of NATO territory.
"""
COVID = """
The Administration announced that every household can order more free
at-home COVID-19 tests. Tests ship within seven to twelve days.

Pharmacies will offer a test to treat programme for antiviral pills.
"""
ENERGY = """
The President announced the release of one million barrels of oil per day
from the Strategic Petroleum Reserve for six months.

This historic release will serve as a bridge until production ramps up.
"""


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    root = tmp_path / "seeds"
    write_release(root, "statements-releases/2022-03/nato.md", "NATO summit statement",
                  "2022-03-24", NATO)
    write_release(root, "statements-releases/2022-03/covid.md", "Free COVID tests",
                  "2022-03-02", COVID)
    write_release(root, "statements-releases/2022-03/oil.md", "Oil reserve release",
                  "2022-03-31", ENERGY, keys="biden")
    return root


@pytest.fixture
def config(tmp_path: Path, seeds: Path) -> Config:
    return config_from_dict({"seeds": str(seeds), "index": str(tmp_path / "index"),
                             "chunking": {"max_tokens": 40, "header_tokens": 16}}, tmp_path)


@pytest.fixture
def embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def state(config: Config, embedder: FakeEmbedder):
    """The web app's state (``rag.web.app.AppState``) over an index built from ``seeds``
    with the fake embedder; a test module may define its own."""
    from rag import load_index
    from rag.index.build import build_index
    from rag.web.app import AppState

    build_index(config, embedder, progress=False)
    return AppState(config, load_index(config.index, config, embedder))


@pytest.fixture
def fake_model(monkeypatch) -> FakeEmbedder:
    """Whatever loads "the model" (the CLI, load_index) gets the fake embedder."""
    embedder = FakeEmbedder()
    monkeypatch.setattr("rag.model.transformer.load_embedder", lambda config: embedder)
    return embedder


HOSTILE = """
A release that tries to inject markup: <script>window.xssFlag = 1; alert("xss")</script>
and an image <img src=x onerror="window.xssFlag = 2; alert('img')"> in the text of the
hostile injection test release.
"""


@pytest.fixture(scope="session")
def real_seeds(tmp_path_factory) -> Path:
    """The repository's seeds (linked, not copied) plus one release full of HTML."""
    root = tmp_path_factory.mktemp("real") / "seeds"
    for path in SEEDS.rglob("*.md"):
        link = root / path.relative_to(SEEDS)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(path)
    write_release(root, "test/hostile.md", "Hostile <b>markup</b> test release", "2022-03-15",
                  HOSTILE)
    return root


@pytest.fixture(scope="session")
def real_config(real_seeds) -> Config:
    return config_from_dict({"seeds": str(real_seeds),
                             "index": str(real_seeds.parent / "index")}, real_seeds.parent)


@pytest.fixture(scope="session")
def real_model():
    from rag.config import ModelConfig
    from rag.model.transformer import load_embedder

    return load_embedder(ModelConfig())


@pytest.fixture(scope="session")
def real_index(real_config, real_model):
    """The real model's index over the seeds (built once per test session)."""
    from rag.index.build import build_index
    from rag import load_index

    build_index(real_config, real_model, progress=False)
    return load_index(real_config.index, real_config, real_model)
