"""The index manifest: what it records, and the one compatibility check (fake embedder)."""

import json

import pytest

from rag import load_index
from rag.errors import IndexMismatchError
from rag.index import store
from rag.index.build import build_index
from conftest import FakeEmbedder


def test_manifest_records_settings(config, embedder):
    build_index(config, embedder, progress=False)
    manifest = json.loads((config.index / "current" / "manifest.json").read_text())
    assert manifest["format_version"] == store.FORMAT_VERSION
    assert manifest["model"] == {"name": "bundled", "id": "fake/bag-of-words", "dim": 64,
                                 "precision": "float32", "variant": ""}
    assert manifest["chunking"]["max_tokens"] == 40
    assert manifest["counts"]["releases"] == 3
    entry = manifest["releases"]["statements-releases/2022-03/nato.md"]
    assert len(entry["hash"]) == 32 and entry["passages"] >= 1
    assert manifest["package_version"] and manifest["created"]


@pytest.mark.parametrize("change, message", [
    (lambda c: c.replace(chunking=c.chunking.__class__(max_tokens=64, header_tokens=16)),
     "chunking.max_tokens is 40 in the index, 64 in the config"),
])
def test_mismatched_settings_are_refused(config, embedder, change, message):
    build_index(config, embedder, progress=False)
    with pytest.raises(IndexMismatchError, match=message + r".*rag index --full"):
        load_index(config.index, change(config), embedder)


def test_other_model_or_dimension_is_refused(config, embedder):
    build_index(config, embedder, progress=False)
    other = FakeEmbedder(dim=32)
    with pytest.raises(IndexMismatchError, match="model.dim is 64 in the index, 32 in the config"):
        load_index(config.index, config, other)
    renamed = FakeEmbedder().renamed(id="other/model")
    with pytest.raises(IndexMismatchError, match="model.id is 'fake/bag-of-words'"):
        load_index(config.index, config, renamed)


def test_vectors_of_another_export_recipe_are_refused_then_rebuilt(config, embedder):
    embedder.renamed(variant="onnx-r1")
    build_index(config, embedder, progress=False)
    newer = FakeEmbedder().renamed(variant="onnx-r2")
    with pytest.raises(IndexMismatchError, match="model.variant is 'onnx-r1' in the index"):
        load_index(config.index, config, newer)
    report = build_index(config, newer, progress=False)
    assert report.full and "model.variant" in report.reason
    load_index(config.index, config, newer)


def test_format_version_mismatch_then_index_rebuilds_fully(config, embedder):
    build_index(config, embedder, progress=False)
    manifest_path = config.index / "current" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 999
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match="index format 999"):
        load_index(config.index, config, embedder)
    report = build_index(config, embedder, progress=False)
    assert report.full and "index format 999" in report.reason
    load_index(config.index, config, embedder)


def test_an_older_format_without_the_newer_files_is_rebuilt_for_its_format(config, embedder):
    from rag.index import store

    build_index(config, embedder, progress=False)
    gen = (config.index / "current").resolve()
    (gen / store.SENTENCES).unlink()  # format 1 and 2 had no sentence table
    manifest = json.loads((gen / "manifest.json").read_text())
    manifest["format_version"] = 2
    (gen / "manifest.json").write_text(json.dumps(manifest))
    report = build_index(config, embedder, progress=False)
    assert report.full and report.reason == (f"index format 2 is not the supported "
                                             f"{store.FORMAT_VERSION}")


def test_manifest_round_trips_to_the_same_json(config, embedder):
    build_index(config, embedder, progress=False)
    gen = store.resolve(config.index)
    written = json.loads((gen / store.MANIFEST).read_text())
    assert store.read_manifest(gen).to_json() == written


def test_check_names_what_differs(config, embedder):
    from rag.index.manifest import FaissSettings, IndexSettings

    build_index(config, embedder, progress=False)
    manifest = store.read_manifest(store.resolve(config.index))
    manifest.check(IndexSettings.of(config, embedder.info))  # the same settings pass
    other = IndexSettings.of(config, FakeEmbedder(dim=32).info)
    with pytest.raises(IndexMismatchError, match=r"model\.dim is 64 in the index, 32") as caught:
        manifest.check(other)
    assert caught.value.reason == "model.dim is 64 in the index, 32 in the config"
    with pytest.raises(IndexMismatchError, match=r"has a flat FAISS index, the config asks for "
                                                 r"hnsw; run `rag index` to rewrite it"):
        manifest.check(IndexSettings.of(config, embedder.info), FaissSettings("hnsw", m=32))


def test_a_damaged_section_is_named(config, embedder):
    from rag.errors import IndexCorruptError

    build_index(config, embedder, progress=False)
    gen = store.resolve(config.index)
    raw = json.loads((gen / store.MANIFEST).read_text())
    raw["chunking"]["colour"] = "blue"
    (gen / store.MANIFEST).write_text(json.dumps(raw))
    with pytest.raises(IndexCorruptError, match=r"manifest\.json is damaged: a value"):
        store.read_manifest(gen)
