"""Generations on disk: atomic writes, pruning, the build lock, damaged files refused (fake embedder)."""

import os

import numpy as np
import pytest

from rag import load_index
from rag.errors import IndexCorruptError, IndexLockedError, IndexNotFoundError
from rag.index import store
from rag.index.build import build_index
from conftest import write_release


def test_missing_index(config, embedder):
    with pytest.raises(IndexNotFoundError, match="build one with `rag index`"):
        load_index(config.index, config, embedder)


def test_crash_while_saving_keeps_old_index(config, embedder, seeds, monkeypatch):
    build_index(config, embedder, progress=False)
    expected = load_index(config.index, config, embedder).retrieve("battle groups", 3)
    write_release(seeds, "statements-releases/2022-03/new.md", "New", "2022-03-30", "Fresh news.")

    def boom(*args):
        raise OSError("disk full")
    monkeypatch.setattr("faiss.write_index", boom)
    with pytest.raises(OSError, match="disk full"):
        build_index(config, embedder, progress=False)
    assert not list(config.index.glob(".tmp-*"))
    assert load_index(config.index, config, embedder).retrieve("battle groups", 3) == expected


def test_old_generations_are_pruned(config, embedder, seeds):
    for i in range(4):
        write_release(seeds, f"x/{i}.md", f"Release {i}", "2022-03-01", f"Number {i} here.")
        build_index(config, embedder, progress=False)
    gens = sorted(p.name for p in config.index.glob("gen-*"))
    assert len(gens) == 2 and os.readlink(config.index / "current") in gens


def test_second_build_is_locked_out(config, embedder):
    with store.build_lock(config.index):
        with pytest.raises(IndexLockedError, match="another `rag index` is building"):
            build_index(config, embedder, progress=False)


def test_damaged_files_are_refused(config, embedder):
    build_index(config, embedder, progress=False)
    gen = (config.index / "current").resolve()
    faiss_file = gen / "index.faiss"
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    with pytest.raises(IndexCorruptError, match=r"index.faiss cannot be read.*rag index --full"):
        load_index(config.index, config, embedder)


@pytest.mark.parametrize("name, damage, message", [
    ("sentences.npy", lambda b: b[:60], r"sentences.npy cannot be read"),
    ("sentence_vectors.npy", lambda b: b[:-64], r"sentence_vectors.npy cannot be read"),
])
def test_damaged_sentence_files_are_refused(config, embedder, name, damage, message):
    build_index(config, embedder, progress=False)
    path = (config.index / "current").resolve() / name
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(IndexCorruptError, match=message + r".*rag index --full"):
        load_index(config.index, config, embedder)


def test_sentence_rows_pointing_past_the_passages_are_refused(config, embedder):
    from rag.index import store

    build_index(config, embedder, progress=False)
    gen = (config.index / "current").resolve()
    sentences = np.load(gen / store.SENTENCES)
    sentences["passage"][-1] = 10 ** 6
    np.save(gen / store.SENTENCES, sentences)
    with pytest.raises(IndexCorruptError, match=r"sentences.npy points outside the passages"):
        load_index(config.index, config, embedder)
