"""The vector-store contract (rag.index.vectorstore), one suite over every back-end:
FAISS + BM25 in this process, Qdrant's local mode (qdrant-client, a folder), and a real
Qdrant server when QDRANT_URL is set.

The seeds/ index is built once for the module (a fast fake embedder) and published to
each Qdrant back-end from the same generation folder, so every back-end searches the
same passages and vectors. Tests that change the index work on a copy of it.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
import zlib
from pathlib import Path

import numpy as np
import pytest

from conftest import SEEDS, FakeEmbedder
from rag import load_index
from rag.config import config_from_dict
from rag.errors import (ConfigError, IndexMismatchError, IndexNotFoundError, QuestionError,
                        StoreError)
from rag.index import store
from rag.index.build import build_index
from rag.index.lexical import LexicalIndex, analyse
from rag.index.serving import backend, publish, rollback
from rag.index.vectorstore import Fusion, Where

from rag.index import qdrant

HAVE_CLIENT = importlib.util.find_spec("qdrant_client") is not None
needs_client = pytest.mark.skipif(not HAVE_CLIENT, reason="pip install '.[qdrant]' to test Qdrant")

QUESTIONS = [
    "sanctions on Russian banks", "COVID-19 vaccines for children",
    "broadband internet in the infrastructure law", "security assistance to Ukraine",
    "climate change and clean energy jobs", "student loan debt relief",
    "inflation and gas prices", "the Supreme Court nomination", "semiconductor chips act",
    "gun violence prevention", "NATO summit in Madrid", "hurricane disaster declaration",
]
BACKENDS = ["faiss", "qdrant-local", "qdrant-server"]


class QuickEmbedder(FakeEmbedder):
    """FakeEmbedder's bag of hashed words with a cheaper hash (the build embeds 2,900
    passages of seeds/)."""

    def embed(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                h = zlib.crc32(word.encode())
                out[i, h % self.dim] += 1.0 if (h >> 16) & 1 else -1.0
        out[np.all(out == 0, axis=1), 0] = 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def _linked_seeds(root: Path, skip: set[str] = frozenset()) -> Path:
    """seeds/ as symlinks (same file stamps, so a rebuild reuses what it read)."""
    for path in SEEDS.rglob("*.md"):
        rel = str(path.relative_to(SEEDS))
        if rel in skip:
            continue
        link = root / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(path)
    return root


def _scratch(factory) -> Path:
    """A folder for local-mode storage: on tmpfs when there is one (local mode commits
    each point to SQLite, which a disk makes 10x slower), else pytest's tmp."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return Path(tempfile.mkdtemp(prefix="rag-qdrant-test-", dir=shm))
    return factory.mktemp("qdrant")


@pytest.fixture(scope="module")
def embedder():
    return QuickEmbedder()


@pytest.fixture(scope="module")
def built(tmp_path_factory, embedder):
    """The seeds/ index, built once (FAISS; Qdrant back-ends publish it)."""
    root = tmp_path_factory.mktemp("vs")
    seeds = _linked_seeds(root / "seeds")
    config = config_from_dict({"seeds": str(seeds), "index": str(root / "index")}, root)
    build_index(config, embedder, progress=False)
    return config


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    folder = _scratch(tmp_path_factory)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _store_section(kind: str, scratch: Path, name: str) -> dict | None:
    """The config's store section for a back-end (None: not available here)."""
    if kind == "faiss":
        return {"backend": "faiss"}
    if not HAVE_CLIENT:
        return None
    if kind == "qdrant-local":
        return {"backend": "qdrant", "qdrant_path": str(scratch / name)}
    url = os.environ.get("QDRANT_URL")
    if not url:
        return None
    return {"backend": "qdrant", "qdrant_url": url,
            "collection_prefix": f"ragtest-{name}-{uuid.uuid4().hex[:8]}"}


def _config(base, section: dict, **more):
    raw = {"seeds": str(base.seeds), "index": str(base.index), "store": section, **more}
    return config_from_dict(raw, Path(base.index).parent)


def _cleanup(config) -> None:
    """Drop a test's collections from a real server."""
    if config.store.qdrant_url:
        client = qdrant.connect(config.store)
        for c in client.get_collections().collections:
            if c.name.startswith(config.store.collection_prefix):
                client.delete_collection(c.name)


@pytest.fixture(scope="module", params=BACKENDS)
def served(request, built, scratch, embedder):
    """(config, loaded index) of one back-end over the module's index."""
    section = _store_section(request.param, scratch, "shared")
    if section is None:
        pytest.skip("set QDRANT_URL (and install '.[qdrant]') to run against Qdrant")
    config = _config(built, section)
    publish(config)
    yield config, load_index(config.index, config, embedder)
    _cleanup(config)


@pytest.fixture(scope="module")
def reference(built, embedder):
    """The FAISS back-end over the same index: what every back-end must equal."""
    return load_index(built.index, built, embedder)


def _key(hits):
    return [(h.release_id, h.start, h.end) for h in hits]


# --- searches ----------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_top_10_identical_to_faiss_on_seeds(served, reference, mode):
    _, index = served
    for question in QUESTIONS:
        got, want = index.retrieve(question, 10, mode=mode), reference.retrieve(question, 10,
                                                                                mode=mode)
        assert len(want) == 10
        assert _key(got) == _key(want), question
        assert [h.score for h in got] == pytest.approx([h.score for h in want], rel=1e-5)


def test_date_and_category_filters_are_applied_inside_the_search(served, reference):
    _, index = served
    since, until = dt.date(2022, 3, 1), dt.date(2022, 3, 31)
    for question in QUESTIONS[:6]:
        hits = index.retrieve(question, 10, since=since, until=until)
        assert hits and all(since <= h.date <= until for h in hits)
        assert _key(hits) == _key(reference.retrieve(question, 10, since=since, until=until))
    category = sorted(index.categories)[0]
    hits = index.retrieve("the President said", 10, category=category.upper(), mode="bm25")
    assert hits and all(h.category == category for h in hits)
    assert _key(hits) == _key(reference.retrieve("the President said", 10, category=category,
                                                 mode="bm25"))
    with pytest.raises(QuestionError, match="not in the index"):
        index.retrieve("sanctions", category="no-such-category")
    assert index.retrieve("sanctions", since="2031-01-01") == []


def test_a_narrow_filter_still_gives_k(served):
    _, index = served
    day = dt.date(2022, 3, 24)
    rows, _ = index.vector_store.dense(index.query_vector("sanctions"), 7, Where(day, day))
    allowed = {i for i, r in enumerate(index.releases) if r.date == day}
    assert len(rows) == min(7, int(np.isin(index.passages["release"], list(allowed)).sum()))
    assert {int(index.passages[r]["release"]) for r in rows} <= allowed


@pytest.mark.parametrize("weights", [(1.0, 1.0), (2.0, 0.5)])
def test_fusion_order_is_our_weighted_rrf_of_the_two_rankings(served, reference, weights):
    _, index = served
    fusion = Fusion(weights[0], weights[1], rrf_k=60)
    for question in QUESTIONS:
        vector, terms = index.query_vector(question), analyse(question)
        rows, scores = index.vector_store.fused(vector, terms, 100, None, fusion)
        dense = index.vector_store.dense(vector, 100, None)[0]
        bm25 = index.vector_store.lexical(terms, 100, None)[0]
        ours = fusion.fuse(dense, bm25)
        assert rows.tolist() == ours[0].tolist()
        assert np.allclose(scores, ours[1])
        assert rows.tolist() == reference.vector_store.fused(vector, terms, 100, None,
                                                             fusion)[0].tolist()


@needs_client
def test_qdrant_fusion_in_one_query_ranks_as_ours(built, scratch, embedder, reference):
    """store.fusion server: Qdrant's RRF (k + 1, equal weights) in the same query."""
    config = _config(built, {"backend": "qdrant", "qdrant_path": str(scratch / "shared"),
                             "fusion": "server"})
    publish(config)
    index = load_index(config.index, config, embedder)
    same = 0
    for question in QUESTIONS:
        got = index.retrieve(question, 10)
        assert len(got) == 10
        same += _key(got) == _key(reference.retrieve(question, 10))
        vector, terms = index.query_vector(question), analyse(question)
        rows, scores = index.vector_store.fused(vector, terms, 100, None, Fusion())
        ours = reference.vector_store.fused(vector, terms, 100, None, Fusion())
        # Qdrant orders rows that tie (or nearly) inside a ranking its own way, which
        # moves a few fused scores; the rows fused are nearly the same.
        overlap = len(set(rows[:50].tolist()) & set(ours[0][:50].tolist()))
        assert overlap >= 45
    assert same >= len(QUESTIONS) - 2


def test_bm25_scores_of_some_rows_are_the_full_scores_bit_for_bit(reference):
    lexical = reference.lexical
    rows = np.arange(0, len(reference), 7)
    for question in QUESTIONS:
        terms = analyse(question) + analyse(question)[:1]  # a repeated term counts twice
        assert np.array_equal(lexical.scores_at(terms, rows), lexical.scores(terms)[rows])
    assert not lexical.scores_at(["zyzzyva"], rows).any()


# --- builds: deletes, BM25 after deletes, the alias, rollback ------------------------------

@pytest.fixture
def own_index(built, tmp_path):
    """A copy of the module's index folder (its current generation) to change."""
    index_dir = tmp_path / "index"
    index_dir.mkdir()
    gen = store.resolve(built.index)
    shutil.copytree(gen, index_dir / gen.name)
    (index_dir / store.CURRENT).symlink_to(gen.name)
    return index_dir


def _removed(built, count: int = 25) -> list:
    """The releases the incremental build drops: every 14th, so all months lose some."""
    return store.read_generation(store.resolve(built.index)).releases[::14][:count]


@pytest.mark.parametrize("kind", BACKENDS)
def test_removed_releases_are_never_returned_and_bm25_follows_the_deletes(
        kind, built, own_index, scratch, embedder, tmp_path):
    section = _store_section(kind, scratch, f"deletes-{tmp_path.name}")
    if section is None:
        pytest.skip("set QDRANT_URL (and install '.[qdrant]') to run against Qdrant")
    removed = _removed(built)
    seeds = _linked_seeds(tmp_path / "fewer", {r.id for r in removed})
    config = config_from_dict({"seeds": str(seeds), "index": str(own_index), "store": section},
                              tmp_path)
    before = load_index(own_index, None, embedder)
    publish(config)
    report = build_index(config, embedder, progress=False)
    assert sorted(report.removed) == sorted(r.id for r in removed)
    assert report.passages_embedded == 0
    index = load_index(config.index, config, embedder)
    assert index.release_count == 350 - len(removed)
    gone = {r.id for r in removed}
    for release in removed:
        for mode in ("dense", "bm25", "hybrid"):
            hits = index.retrieve(release.title, 20, mode=mode)
            assert hits and not gone & {h.release_id for h in hits}
    lexical = LexicalIndex.load(index.path / store.BM25)
    for question in QUESTIONS + [r.title for r in removed[:5]]:
        terms = analyse(question)
        rows, scores = index.vector_store.lexical(terms, 50, None)
        want_rows, want_scores = lexical.top(terms, 50)
        assert rows.tolist() == want_rows.tolist()
        assert np.allclose(scores, want_scores, rtol=1e-5)
    # idf moved with the deletes: the old generation weighs a term otherwise.
    term = analyse("sanctions")[0]
    assert lexical.idf(term) != pytest.approx(before.lexical.idf(term))
    if kind != "faiss":
        client = qdrant.connect(config.store)
        name = qdrant.collection_name(config.store.collection_prefix, index.path)
        assert client.count(name, exact=True).count == len(index.passages)
        _cleanup(config)


@pytest.mark.parametrize("kind", ["qdrant-local", "qdrant-server"])
def test_the_alias_switches_atomically_and_rollback_switches_back(
        kind, built, own_index, scratch, embedder, tmp_path, monkeypatch):
    section = _store_section(kind, scratch, f"alias-{tmp_path.name}")
    if section is None:
        pytest.skip("set QDRANT_URL (and install '.[qdrant]') to run against Qdrant")
    removed = _removed(built, 10)
    seeds = _linked_seeds(tmp_path / "fewer", {r.id for r in removed})
    config = config_from_dict({"seeds": str(seeds), "index": str(own_index), "store": section},
                              tmp_path)
    publish(config)
    old = load_index(config.index, config, embedder)
    question = removed[0].title
    old_hits = _key(old.retrieve(question, 10))
    assert removed[0].id in {h[0] for h in old_hits}

    during = {}
    switch = qdrant.QdrantBackend._switch

    def load_then_switch(self, name):
        # After the upload, before the alias moves: a reader still gets the old index
        # whole, though `current` on disk already names the new generation.
        during["gen"] = store.resolve(config.index)
        during["index"] = load_index(config.index, config, embedder)
        switch(self, name)

    monkeypatch.setattr(qdrant.QdrantBackend, "_switch", load_then_switch)
    build_index(config, embedder, progress=False)
    monkeypatch.undo()
    mid = during["index"]
    assert during["gen"] != old.path and mid.path == old.path
    assert mid.vector_store.collection == old.vector_store.collection
    assert _key(mid.retrieve(question, 10)) == old_hits

    new = load_index(config.index, config, embedder)
    assert new.path == store.resolve(config.index) != old.path
    assert removed[0].id not in {h.release_id for h in new.retrieve(question, 10)}
    # A reader loaded before the switch keeps its collection: old or new, never a mix.
    assert _key(old.retrieve(question, 10)) == old_hits
    stores = backend(config.store)
    assert stores.served_collection() == new.vector_store.collection

    assert rollback(config) == old.path
    assert stores.served_collection() == old.vector_store.collection
    assert store.resolve(config.index) == old.path
    again = load_index(config.index, config, embedder)
    assert again.path == old.path and _key(again.retrieve(question, 10)) == old_hits
    _cleanup(config)


def test_faiss_rollback_switches_current_back(built, own_index, embedder, tmp_path):
    seeds = _linked_seeds(tmp_path / "fewer", {r.id for r in _removed(built, 5)})
    config = config_from_dict({"seeds": str(seeds), "index": str(own_index)}, tmp_path)
    first = store.resolve(own_index)
    build_index(config, embedder, progress=False)
    assert store.resolve(own_index) != first
    assert rollback(config) == first and store.resolve(own_index) == first
    assert load_index(own_index, config, embedder).release_count == 350
    with pytest.raises(IndexNotFoundError, match="no generation older than"):
        rollback(config)


def test_rag_index_rollback_on_the_command_line(built, own_index, embedder, tmp_path, capsys):
    from rag.cli import main

    first = store.resolve(own_index)
    seeds = _linked_seeds(tmp_path / "fewer", {r.id for r in _removed(built, 3)})
    build_index(config_from_dict({"seeds": str(seeds), "index": str(own_index)}, tmp_path),
                embedder, progress=False)
    assert main(["index", "--rollback", "--index", str(own_index)]) == 0
    assert f"serving {first} again" in capsys.readouterr().out
    assert store.resolve(own_index) == first
    assert main(["index", "--rollback", "--index", str(own_index)]) == 1
    assert "no generation older than" in capsys.readouterr().err


# --- a generation and its collection must match ----------------------------------------------

@needs_client
def test_a_generation_without_its_collection_is_a_clear_error(built, own_index, scratch,
                                                             embedder, tmp_path):
    config = config_from_dict({"seeds": str(built.seeds), "index": str(own_index), "store": {
        "backend": "qdrant", "qdrant_path": str(scratch / f"gone-{tmp_path.name}")}}, tmp_path)
    with pytest.raises(IndexNotFoundError, match="no collection is published under the alias"):
        load_index(config.index, config, embedder)
    publish(config)
    client = qdrant.connect(config.store)
    gen = store.resolve(own_index)
    client.delete_collection(qdrant.collection_name("rag", gen))
    with pytest.raises(IndexMismatchError, match="does not exist; run `rag index`"):
        load_index(gen, config, embedder)
    # An alias that serves a generation of another index folder (one prefix each!).
    other = tmp_path / "other"
    other.mkdir()
    shutil.copytree(gen, other / "gen-elsewhere")
    (other / store.CURRENT).symlink_to("gen-elsewhere")
    publish(config, other)
    with pytest.raises(IndexMismatchError, match="not a generation of"):
        load_index(own_index, config, embedder)


@needs_client
def test_a_collection_of_other_contents_is_refused(built, own_index, scratch, embedder,
                                                  tmp_path):
    config = config_from_dict({"seeds": str(built.seeds), "index": str(own_index), "store": {
        "backend": "qdrant", "qdrant_path": str(scratch / f"other-{tmp_path.name}")}}, tmp_path)
    publish(config)
    client = qdrant.connect(config.store)
    name = qdrant.collection_name("rag", store.resolve(own_index))
    client.update_collection(name, metadata={"passages": 7})
    with pytest.raises(IndexMismatchError, match="holds 7 passages"):
        load_index(own_index, config, embedder)
    assert "published" in publish(config)  # the next build uploads it again
    assert len(load_index(own_index, config, embedder)) == len(store.read_generation(
        store.resolve(own_index)).passages)


@needs_client
def test_a_local_folder_open_in_another_process_is_a_clear_error(scratch):
    folder = scratch / "busy"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from qdrant_client import QdrantClient; "
         f"c = QdrantClient(path={str(folder)!r}); print('open', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        config = config_from_dict({"store": {"backend": "qdrant", "qdrant_path": str(folder)}},
                                  scratch)
        with pytest.raises(StoreError, match="open in another process"):
            qdrant.connect(config.store)
    finally:
        holder.kill()
        holder.wait()


@needs_client
def test_a_server_that_does_not_answer_is_a_store_error(tmp_path, own_index, embedder):
    config = config_from_dict({"index": str(own_index), "store": {
        "backend": "qdrant", "qdrant_url": "http://127.0.0.1:9", "timeout": 2}}, tmp_path)
    with pytest.raises(StoreError, match="Qdrant at http://127.0.0.1:9: listing aliases failed"):
        load_index(own_index, config, embedder)


def test_without_qdrant_client_the_error_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "qdrant_client", None)
    config = config_from_dict({"store": {"backend": "qdrant", "qdrant_path": "q"}}, tmp_path)
    with pytest.raises(ConfigError, match=r"pip install '\.\[qdrant\]'"):
        backend(config.store)


# --- config --------------------------------------------------------------------------------

@pytest.mark.parametrize("section, message", [
    ({"backend": "milvus"}, r"store.backend = 'milvus' must be one of faiss, qdrant"),
    ({"backend": "qdrant"}, r"set exactly one of them"),
    ({"backend": "qdrant", "qdrant_url": "http://h:6333", "qdrant_path": "q"},
     r"set exactly one of them"),
    ({"qdrant_url": "localhost:6333"}, r"must be an http:// or https:// address"),
    ({"collection_prefix": "my index"}, r"must be 1-48 letters, digits, - or _"),
    ({"fusion": "dbsf"}, r"store.fusion = 'dbsf' must be one of client, server"),
    ({"timeout": 0}, r"store.timeout = 0.0 must be between 0 and 3600"),
    ({"colection_prefix": "x"}, r"unknown key store.colection_prefix"),
    ({"replicas": 0}, r"store.replicas = 0 must be between 1 and 10"),
    ({"shards": -1}, r"store.shards = -1 must be between 0"),
])
def test_store_settings_are_validated(section, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        config_from_dict({"store": section}, tmp_path)


def test_qdrant_fusion_needs_equal_weights(tmp_path):
    with pytest.raises(ConfigError, match=r"needs retrieval.dense_weight \(2\) equal to "
                                          r"bm25_weight \(1\)"):
        config_from_dict({"store": {"fusion": "server"}, "retrieval": {"dense_weight": 2.0}},
                         tmp_path)


def test_qdrant_path_is_relative_to_the_config_file(tmp_path):
    config = config_from_dict({"store": {"backend": "qdrant", "qdrant_path": "q"}}, tmp_path)
    assert config.store.qdrant_path == str((tmp_path / "q").resolve())


# --- the same commands on either back-end ----------------------------------------------------

@needs_client
def test_rag_index_search_and_ask_give_the_same_output_on_qdrant(built, scratch, embedder,
                                                                 tmp_path, monkeypatch, capsys):
    import json

    from rag.cli import main

    monkeypatch.setattr("rag.model.transformer.load_embedder", lambda config: embedder)
    configs = {}
    for kind in ("faiss", "qdrant"):
        store_section = {"backend": "faiss"} if kind == "faiss" else {
            "backend": "qdrant", "qdrant_path": str(scratch / "shared")}
        path = tmp_path / f"{kind}.yaml"
        path.write_text(json.dumps({"seeds": str(built.seeds), "index": str(built.index),
                                    "store": store_section}), encoding="utf-8")
        configs[kind] = str(path)
    assert main(["index", "--config", configs["qdrant"], "--quiet"]) == 0
    assert "up to date" in capsys.readouterr().out
    outputs = {}
    for kind, path in configs.items():
        runs = []
        for command in (["search", "sanctions on Russian banks", "--top-k", "10", "--json"],
                        ["search", "security assistance to Ukraine", "--since", "2022-03-01",
                         "--json"],
                        ["ask", "What did the President say about student loans?", "--json",
                         "--no-collect"]):
            assert main([*command, "--config", path]) == 0
            runs.append(json.loads(capsys.readouterr().out))
        outputs[kind] = runs
    assert outputs["qdrant"] == outputs["faiss"]
    assert len(outputs["faiss"][0]) == 10 and outputs["faiss"][2]["sources"]
