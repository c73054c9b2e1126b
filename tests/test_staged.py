"""Lexical first (rag.index.staged): a large build is searchable before its embedding ends,
an interrupted embedding resumes, and the end result is the one-step build's (fake embedder)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from rag import load_index
from rag.config import AnswerConfig, config_from_dict
from rag.errors import ConfigError, QuestionError
from rag.index import store
from rag.index.build import build_index
from rag.index.embed_cache import CACHE_DIR, EmbedCache
from rag.index.embed_status import STATUS, EmbedStatus, generation_note, write_status
from rag.index.lexical import LexicalIndex
from rag.index.manifest import ModelSettings
from conftest import REPO, FakeEmbedder, write_release

QUESTION = "Which countries received new battle groups?"


@pytest.fixture
def staged_config(tmp_path, seeds):
    """The test corpus, small enough that a build is lexical first only when told."""
    for n in range(4):
        write_release(seeds, f"statements-releases/2022-04/extra-{n}.md", f"Statement {n}",
                      f"2022-04-0{n + 1}", f"Paragraph {n} about trade with partners. "
                      f"It lists tariffs and quotas for item {n}.\n\nA second paragraph {n}.")
    return config_from_dict({"seeds": str(seeds), "index": str(tmp_path / "index"),
                             "chunking": {"max_tokens": 40, "header_tokens": 16},
                             "build": {"lexical_first_new": 1}}, tmp_path)


@pytest.fixture
def small_batches(monkeypatch):
    """Two texts per engine batch, a cache shard per batch: interruptions land mid-way."""
    monkeypatch.setattr("rag.index.engine.EMBED_BATCH", 2)
    monkeypatch.setattr("rag.index.staged.FLUSH_TEXTS", 1)


class FailingEmbedder(FakeEmbedder):
    """Raises on its ``fail_after + 1``-th batch, as a killed or broken model would."""

    def __init__(self, fail_after: int):
        super().__init__()
        self.fail_after = fail_after
        self.batches = 0

    def encode(self, texts, spans):
        if self.batches >= self.fail_after:
            raise RuntimeError("embedding interrupted")
        self.batches += 1
        return super().encode(texts, spans)


class BlockingEmbedder(FakeEmbedder):
    """Embeds passages (``encode``) only once ``go`` is set; queries (``embed``) at once."""

    def __init__(self):
        super().__init__()
        self.go = threading.Event()

    def encode(self, texts, spans):
        assert self.go.wait(30), "the test never let the embedding go on"
        return super().encode(texts, spans)


def _tables(index_dir: Path):
    gen = store.read_generation(store.resolve(index_dir))
    bm25 = LexicalIndex.load(store.resolve(index_dir) / store.BM25)
    return gen, bm25


def assert_same_index(a: Path, b: Path) -> None:
    """Same releases, passages, sentences, vectors and BM25 postings."""
    (ga, la), (gb, lb) = _tables(a), _tables(b)
    assert ga.manifest.kind == gb.manifest.kind == "hybrid"
    assert [r.id for r in ga.releases] == [r.id for r in gb.releases]
    assert [r.content_hash for r in ga.releases] == [r.content_hash for r in gb.releases]
    for name in ("passages", "vectors", "sentences", "sentence_vectors"):
        assert np.array_equal(getattr(ga, name), getattr(gb, name)), name
    assert _postings(la) == _postings(lb)  # term ids may be numbered in another order
    assert np.array_equal(la.lengths, lb.lengths)


def _postings(lexical: LexicalIndex) -> dict[str, tuple[list[int], list[int]]]:
    return {term: (lexical.rows[lexical.indptr[t]:lexical.indptr[t + 1]].tolist(),
                   lexical.tf[lexical.indptr[t]:lexical.indptr[t + 1]].tolist())
            for t, term in enumerate(lexical.vocab)}


def _one_step(config, tmp_path: Path) -> Path:
    other = config.replace(index=tmp_path / "one-step")
    build_index(other, FakeEmbedder(), progress=False, lexical_first=False)
    return other.index


def test_a_new_index_is_published_lexical_then_hybrid(staged_config, tmp_path):
    seen = []
    report = build_index(staged_config, FakeEmbedder(), progress=False,
                         on_lexical=lambda partial: seen.append(
                             store.read_manifest(store.resolve(staged_config.index)).kind))
    assert seen == ["lexical"]  # current was the lexical generation when it was announced
    assert report.lexical_path is not None and report.lexical_path != report.index_path
    assert store.read_manifest(report.lexical_path).kind == "lexical"
    assert not (report.lexical_path / store.VECTORS).exists()
    assert not (report.lexical_path / store.FAISS).exists()
    assert store.resolve(staged_config.index) == report.index_path
    assert store.read_manifest(report.index_path).kind == "hybrid"
    # Once hybrid, the cache and the status file are gone.
    assert not (staged_config.index / CACHE_DIR).exists()
    assert not (staged_config.index / STATUS).exists()
    assert "lexical generation published after" in report.summary()
    assert list(report.stages) == ["read", "chunk", "tables", "bm25", "write lexical",
                                   "embed", "write hybrid"]
    assert_same_index(staged_config.index, _one_step(staged_config, tmp_path))


def test_the_lexical_generation_answers_before_the_embedding_ends(staged_config):
    embedder = BlockingEmbedder()
    published = threading.Event()
    result = {}

    def run():
        result["report"] = build_index(staged_config, embedder, progress=False,
                                       on_lexical=lambda _: published.set())

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert published.wait(30)
        lenient = staged_config.replace(answer=AnswerConfig(min_score=0.2))
        index = load_index(staged_config.index, lenient, embedder)
        assert index.lexical_only and len(index) > 0
        assert index.generation_note().startswith("lexical only, embedding 0%")
        for mode in ("hybrid", "dense", "bm25"):
            found = index.search(QUESTION, mode=mode)
            assert found.mode == "bm25"
            assert found.hits[0].release_id == "statements-releases/2022-03/nato.md"
        with pytest.raises(QuestionError, match="lexical generation, searched with BM25"):
            index.search_vectors(np.ones(embedder.dim, np.float32), 3)
        answer = index.answer(QUESTION)
        assert not answer.abstained and answer.mode == "bm25"
        assert "Slovakia, Romania, Bulgaria, and Hungary" in answer.quotes[0].text
        for quote in answer.quotes:
            assert index.release(quote.release_id).body[quote.start:quote.end] == quote.text
    finally:
        embedder.go.set()
        thread.join(30)
    index = load_index(staged_config.index, staged_config, embedder)
    assert not index.lexical_only and index.generation_note() == ""
    assert index.search(QUESTION).mode == "hybrid"


def test_an_interrupted_embedding_resumes_where_it_stopped(staged_config, tmp_path,
                                                           small_batches):
    with pytest.raises(RuntimeError, match="embedding interrupted"):
        build_index(staged_config, FailingEmbedder(fail_after=3), progress=False)
    # current is the lexical generation, complete; its status says where it stopped.
    index = load_index(staged_config.index, staged_config, FakeEmbedder())
    assert index.lexical_only and index.retrieve(QUESTION)
    note = index.generation_note()
    assert "embedding stopped at" in note and "run `rag index` to finish" in note
    total = len(index)
    rerun = FakeEmbedder()
    counted = []
    report = build_index(staged_config, rerun, progress=False, on_embed=counted.extend)
    assert report.passages_cached == 6  # 3 batches of 2 were kept
    assert len(counted) == report.passages_embedded == total - 6
    assert len(rerun.embedded) == total - 6  # only the rest went through the model
    assert report.lexical_path is None  # the lexical generation was current already
    assert_same_index(staged_config.index, _one_step(staged_config, tmp_path))


def test_a_cache_made_by_another_model_is_never_used(staged_config, small_batches):
    for changes in ({"variant": "onnx-r9"}, {"id": "fake/another-model"}):
        with pytest.raises(RuntimeError):
            build_index(staged_config, FailingEmbedder(fail_after=2), progress=False)
        assert (staged_config.index / CACHE_DIR).is_dir()
        report = build_index(staged_config, FakeEmbedder().renamed(**changes), progress=False)
        assert report.passages_cached == 0  # the other identity's vectors were not used
        assert report.passages_embedded == report.passages
        assert not (staged_config.index / CACHE_DIR).exists()


def test_the_cache_drops_other_identities_and_damaged_shards(tmp_path):
    model = ModelSettings("bundled", "m", 4, "int8", "onnx-r4")
    cache = EmbedCache(tmp_path, model, 4)
    cache.add([b"k" * 16, b"j" * 16], np.eye(2, 4, dtype=np.float32),
              [np.ones((1, 4), np.int8), np.zeros((0, 4), np.int8)])
    cache.flush()
    found = EmbedCache(tmp_path, model, 4).load()
    assert set(found) == {b"k" * 16, b"j" * 16}
    assert np.array_equal(found[b"k" * 16][1], np.ones((1, 4), np.int8))
    assert found[b"j" * 16][1].shape == (0, 4)
    (cache.folder / "shard-broken.npz").write_bytes(b"not a shard")
    (cache.folder / ".shard-x.part").write_bytes(b"half written")
    assert len(EmbedCache(tmp_path, model, 4).load()) == 2
    assert sorted(p.name for p in cache.folder.iterdir()) == [
        next(p.name for p in cache.folder.iterdir())]  # only the good shard is left
    other = EmbedCache(tmp_path, ModelSettings("bundled", "m", 4, "float32", "torch"), 4)
    assert other.load() == {} and not cache.folder.exists()


def test_small_updates_stay_one_step_and_large_ones_reuse_stored_vectors(staged_config,
                                                                         seeds, tmp_path):
    build_index(staged_config, FakeEmbedder(), progress=False)
    write_release(seeds, "statements-releases/2022-04/extra-0.md", "Statement 0",
                  "2022-04-01", "A rewritten paragraph about trade and tariffs.")
    report = build_index(staged_config, FakeEmbedder(), progress=False)
    assert report.lexical_path is None and report.changed and report.passages_embedded >= 1
    # With a low update threshold an update is lexical first too, and keeps the vectors
    # of unchanged releases rather than embedding them again.
    low = staged_config.replace(build=staged_config.build.__class__(lexical_first_update=1))
    write_release(seeds, "statements-releases/2022-04/extra-1.md", "Statement 1",
                  "2022-04-02", "Another rewritten paragraph about quotas.")
    counted = []
    report = build_index(low, FakeEmbedder(), progress=False, on_embed=counted.extend)
    assert report.lexical_path is not None and report.passages_reused > 0
    assert len(counted) == report.passages_embedded == 1
    assert_same_index(staged_config.index, _one_step(staged_config, tmp_path))


def test_lexical_first_can_be_turned_off(staged_config):
    report = build_index(staged_config, FakeEmbedder(), progress=False, lexical_first=False)
    assert report.lexical_path is None and "lexical" not in report.stages
    off = staged_config.replace(build=staged_config.build.__class__(lexical_first=False))
    report = build_index(off, FakeEmbedder(), progress=False, full=True)
    assert report.lexical_path is None


def test_build_settings_are_validated(tmp_path):
    with pytest.raises(ConfigError, match=r"build\.lexical_first_new = 0 must be between 1"):
        config_from_dict({"build": {"lexical_first_new": 0}}, tmp_path)
    with pytest.raises(ConfigError, match=r"build\.lexical_first = 'yes' must be true or false"):
        config_from_dict({"build": {"lexical_first": "yes"}}, tmp_path)


def test_the_status_note_says_which_generation_answers(tmp_path):
    gen = tmp_path / "gen-1"
    gen.mkdir()
    assert generation_note(gen, lexical_only=False) == ""
    assert "has not started" in generation_note(gen, lexical_only=True)
    status = EmbedStatus("gen-1", 41, 100, "2026-12-02T00:00:00+00:00",
                         "2026-12-02T00:01:00+00:00", os.getpid())
    write_status(tmp_path, status)
    assert generation_note(gen, True) == "lexical only, embedding 41% (41 of 100 passages)"
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True)
    write_status(tmp_path, EmbedStatus("gen-1", 41, 100, "", "", int(done.stdout)))
    assert "embedding stopped at 41%" in generation_note(gen, True)  # its process is gone
    (tmp_path / STATUS).write_text("{not json", encoding="utf-8")
    assert "has not started" in generation_note(gen, True)


def test_rag_search_and_the_app_say_lexical_only(staged_config, small_batches, fake_model,
                                                 capsys, monkeypatch):
    from rag.cli import main
    from rag.web.app import AppState

    with pytest.raises(RuntimeError):
        build_index(staged_config, FailingEmbedder(fail_after=1), progress=False)
    config_file = staged_config.index.parent / "rag.yaml"
    config_file.write_text(f"seeds: {staged_config.seeds}\nindex: {staged_config.index}\n"
                           "chunking: {max_tokens: 40, header_tokens: 16}\n", encoding="utf-8")
    assert main(["--config", str(config_file), "search", QUESTION]) == 0
    out = capsys.readouterr()
    assert "note: lexical only (BM25): the embedding stopped at" in out.err
    assert "Slovakia" in out.out
    state = AppState(staged_config, load_index(staged_config.index, staged_config, fake_model))
    assert "the embedding stopped at" in state.status()


def test_the_app_serves_the_lexical_generation_and_swaps_in_the_hybrid_one(staged_config):
    from rag.web.app import AppState

    embedder = BlockingEmbedder()
    state = AppState.start(staged_config, embedder)  # returns before the embedding ends
    try:
        assert state.index.lexical_only
        assert "lexical only, embedding 0%" in state.status()
        assert state.index.search(QUESTION).hits
    finally:
        embedder.go.set()
    deadline = time.monotonic() + 30
    while state.index.lexical_only and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not state.index.lexical_only and "lexical only" not in state.status()
    assert state.index.search(QUESTION).mode == "hybrid"


_KILLED_BUILD = """
import sys, time
sys.path.insert(0, {tests!r})
import rag.index.engine, rag.index.staged
from conftest import FakeEmbedder
from rag.config import config_from_dict
from rag.index.build import build_index

rag.index.engine.EMBED_BATCH = 2
rag.index.staged.FLUSH_TEXTS = 1

class Slow(FakeEmbedder):
    started = False

    def encode(self, texts, spans):
        if not self.started:
            print("EMBED", flush=True)
            self.started = True
        time.sleep(0.2)
        return super().encode(texts, spans)

config = config_from_dict({config!r}, {base!r})
build_index(config, Slow(), progress=False,
            on_lexical=lambda _: print("LEXICAL", flush=True))
print("DONE", flush=True)
"""


def test_a_kill_at_any_moment_leaves_current_complete(staged_config, tmp_path):
    raw = {"seeds": str(staged_config.seeds), "index": str(staged_config.index),
           "chunking": {"max_tokens": 40, "header_tokens": 16}, "build": {"lexical_first_new": 1}}
    script = tmp_path / "killed_build.py"
    script.write_text(textwrap.dedent(_KILLED_BUILD.format(
        tests=str(REPO / "tests"), config=raw, base=str(tmp_path))), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    kinds = []
    # Killed before anything is published, right as the lexical generation is, and at
    # two points of the embedding (each run resumes the last one's).
    for first, delay in ((None, 0.2), ("LEXICAL", 0.0), ("EMBED", 0.3), ("EMBED", 0.5)):
        child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                                 text=True, env=env, cwd=tmp_path)
        try:
            if first is not None:
                assert child.stdout.readline().strip() == first
            time.sleep(delay)
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(30)
        if (staged_config.index / "current").exists():
            gen = store.read_generation(store.resolve(staged_config.index))  # complete
            kinds.append(gen.manifest.kind)
            index = load_index(staged_config.index, staged_config, FakeEmbedder())
            assert index.retrieve(QUESTION)[0].release_id == "statements-releases/2022-03/nato.md"
    assert kinds[0] == "lexical" and kinds[-1] == "lexical"
    report = build_index(staged_config, FakeEmbedder(), progress=False)
    assert report.passages_cached > 0  # what the killed builds embedded was kept
    assert_same_index(staged_config.index, _one_step(staged_config, tmp_path))
