"""The Ray engine builds the index the local engine builds: same releases, passages,
manifest and vectors, the same incremental work, on one machine and on a simulated
two-node cluster; a worker killed mid-build is retried, or the build fails clearly and
leaves the live index as it was."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="Ray is an optional dependency: pip install .[ray]")
pytest.importorskip("ray.data", reason="the Ray engine needs ray[data]: pip install .[ray]")

from conftest import REPO, SEEDS, FakeEmbedder, write_release  # noqa: E402
from rag.config import ModelConfig, config_from_dict  # noqa: E402
from rag.errors import RagError  # noqa: E402
from rag.index import store  # noqa: E402
from rag.index.build import build_index  # noqa: E402
from rag.index.ray_engine import RayEngine  # noqa: E402
from rag.ingest.releases import load_releases  # noqa: E402

RELEASES = 240  # a few hundred, fast with the fake embedder
TESTS = Path(__file__).resolve().parent


def _init_options() -> dict:
    """A small, quiet Ray."""
    return dict(object_store_memory=100 * 2**20, include_dashboard=False,
                log_to_driver=False, logging_level=logging.ERROR)


@pytest.fixture(scope="module", autouse=True)
def worker_path():
    """Ray's workers inherit the environment Ray is started in: with this folder on
    PYTHONPATH they import this module's fakes (a job runtime_env would do it too, but
    its workers are not the ones Ray starts in advance, and start slower)."""
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS), str(REPO), old) if p)
    yield
    if old is None:
        os.environ.pop("PYTHONPATH")
    else:
        os.environ["PYTHONPATH"] = old


# --- what the actors build (imported by name on the workers) ----------------------------

def fake_counter():
    return FakeEmbedder().count_tokens


class CrashOnce(FakeEmbedder):
    """The fake embedder, whose first batch anywhere kills its worker process (SIGKILL):
    the marker file says it happened."""

    def __init__(self, marker: str):
        super().__init__()
        self.marker = marker

    def encode(self, texts, spans):
        try:
            with open(self.marker, "x"):
                pass
        except FileExistsError:
            return super().encode(texts, spans)
        os.kill(os.getpid(), signal.SIGKILL)


def node_recording(make, log_dir: str):
    """``make()``, after writing this worker's Ray node id into ``log_dir``."""
    node = ray.get_runtime_context().get_node_id()
    Path(log_dir, f"{node}-{os.getpid()}").write_text(node)
    return make()


# --- helpers ----------------------------------------------------------------------------

def _copy_seeds(target: Path, n: int) -> Path:
    for path in sorted(SEEDS.rglob("*.md"))[:n]:
        dest = target / path.relative_to(SEEDS)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
    return target


def _config(seeds: Path, index: Path):
    return config_from_dict({"seeds": str(seeds), "index": str(index)}, seeds.parent)


def _fake_engine(config, **kwargs) -> RayEngine:
    return RayEngine(config.model, config.chunking, make_embedder=FakeEmbedder,
                     make_counter=fake_counter, **kwargs)


def _assert_same_index(a: Path, b: Path, min_cosine: float | None = None) -> None:
    """Two indexes hold the same releases, passages, sentences and manifest (but its
    time), and the same vectors (exactly, or to ``min_cosine``)."""
    ga, gb = store.read_generation(store.resolve(a)), store.read_generation(store.resolve(b))
    assert ga.releases == gb.releases
    assert np.array_equal(ga.passages, gb.passages)
    assert np.array_equal(ga.sentences, gb.sentences)
    ma, mb = ga.manifest.to_json(), gb.manifest.to_json()
    assert ma.pop("created") and mb.pop("created")
    assert ma == mb
    if min_cosine is None:
        assert np.array_equal(ga.vectors, gb.vectors)
        assert np.array_equal(ga.sentence_vectors, gb.sentence_vectors)
    else:
        cosines = np.sum(np.asarray(ga.vectors) * np.asarray(gb.vectors), axis=1)
        assert cosines.min() >= min_cosine
    assert len(ga.passages) > 0


def _live(index: Path) -> tuple[str, bytes]:
    """Which generation is live, and its manifest's bytes."""
    gen = store.resolve(index)
    return gen.name, (gen / "manifest.json").read_bytes()


# --- one Ray session on this machine ----------------------------------------------------

@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, **_init_options())
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def built(local_ray, tmp_path_factory):
    """The same seeds built by the local engine and by the Ray engine; among them a bad
    file and a page saved twice, which both must skip."""
    root = tmp_path_factory.mktemp("ray")
    seeds = _copy_seeds(root / "seeds", RELEASES)
    write_release(seeds, "x/dup.md", "Same page twice", "2022-01-01", "Body.",
                  url="https://www.whitehouse.gov/briefing-room/same/")
    write_release(seeds, "x/dup2.md", "Same page again", "2022-01-02", "Body.",
                  url="https://www.whitehouse.gov/briefing-room/same/")
    (seeds / "x" / "bad.md").write_text("no front matter", encoding="utf-8")
    local, remote = _config(seeds, root / "local"), _config(seeds, root / "ray")
    engine = _fake_engine(remote)
    reports = (build_index(local, FakeEmbedder(), progress=False),
               build_index(remote, FakeEmbedder(), progress=False, engine=engine))
    return seeds, local, remote, engine, reports


def test_ray_build_equals_local_build(built):
    _, local, remote, engine, (a, b) = built
    assert b.passages_embedded == a.passages_embedded > RELEASES
    assert (b.added, b.passages, b.tokens_embedded) == (a.added, a.passages, a.tokens_embedded)
    assert b.skipped == a.skipped and {s.path for s in b.skipped} == {"x/bad.md", "x/dup2.md"}
    # Releases, stamps and skipped files are in the manifest: the loads were the same.
    _assert_same_index(local.index, remote.index)
    assert engine.stats["read_files"] == RELEASES + 3
    # The read tasks cut every release they parsed; the plan used their passages.
    assert engine.stats["cut_releases"] == RELEASES + 2


def test_incremental_ray_build_embeds_only_what_changed(built):
    seeds, local, remote, engine, _ = built
    files = sorted(seeds.rglob("*.md"))
    for path in files[:2]:
        path.write_text(path.read_text(encoding="utf-8") + "\nA sentence added today.\n",
                        encoding="utf-8")
    files[2].unlink()
    write_release(seeds, "statements-releases/new/added.md", "A new statement", "2024-05-01",
                  "The President spoke about a brand new programme today.")
    seen: dict[str, list[str]] = {"local": [], "ray": []}
    a = build_index(local, FakeEmbedder(), progress=False, on_embed=seen["local"].extend)
    assert (len(a.changed), len(a.removed), len(a.added)) == (2, 1, 1)
    b = build_index(remote, FakeEmbedder(), progress=False, on_embed=seen["ray"].extend,
                    engine=engine)
    assert (len(b.changed), len(b.removed), len(b.added)) == (2, 1, 1)
    assert b.unchanged == RELEASES + 1 - 3
    assert seen["ray"] == seen["local"] and 0 < len(seen["ray"]) < 40
    # Every text embedded is a passage of a changed or added release (its header names it).
    titles = [r.title for r in load_releases(seeds).releases
              if r.id in b.changed + b.added]
    assert all(any(title in text for title in titles) for text in seen["ray"])
    # Only the three new or changed files and the two skipped ones were read again; the
    # rest were reused by stamp.
    assert engine.stats["read_files"] == 3 + 2
    _assert_same_index(local.index, remote.index)


def test_killed_actor_fails_clearly_or_is_retried(local_ray, tmp_path):
    seeds = _copy_seeds(tmp_path / "seeds", 60)
    config = _config(seeds, tmp_path / "index")
    build_index(config, FakeEmbedder(), progress=False)
    write_release(seeds, "statements-releases/new/one.md", "One more", "2024-05-01",
                  "Something new was announced.")
    before = _live(config.index)
    marker = tmp_path / "killed"

    def crashing(retries: int) -> RayEngine:
        return RayEngine(config.model, config.chunking, retries=retries,
                         make_embedder=functools.partial(CrashOnce, str(marker)),
                         make_counter=fake_counter)

    with pytest.raises(RagError, match="Ray build failed while embedding passages"):
        build_index(config, FakeEmbedder(), progress=False, engine=crashing(0))
    assert marker.exists()  # the worker was killed mid-build ...
    assert _live(config.index) == before  # ... and the live index is untouched
    marker.unlink()
    report = build_index(config, FakeEmbedder(), progress=False, engine=crashing(2))
    assert marker.exists() and report.added == ["statements-releases/new/one.md"]
    reference = _config(seeds, tmp_path / "reference")
    build_index(reference, FakeEmbedder(), progress=False)
    _assert_same_index(reference.index, config.index)


@pytest.mark.model
def test_cli_index_engine_ray(local_ray, tmp_path, capsys):
    from rag.cli import main

    seeds = _copy_seeds(tmp_path / "seeds", 6)
    args = ["index", "--seeds", str(seeds), "--quiet"]
    assert main([*args, "--index", str(tmp_path / "ray"), "--engine", "ray"]) == 0
    assert "6 added" in capsys.readouterr().out
    assert ray.is_initialized()  # a session the caller opened stays open
    assert main([*args, "--index", str(tmp_path / "local")]) == 0
    _assert_same_index(tmp_path / "local", tmp_path / "ray", min_cosine=0.9999)


def test_ray_workers_must_load_the_drivers_model(local_ray, tmp_path):
    seeds = _copy_seeds(tmp_path / "seeds", 4)
    config = _config(seeds, tmp_path / "index")
    engine = RayEngine(config.model, config.chunking, make_counter=fake_counter,
                       make_embedder=lambda: FakeEmbedder().renamed(variant="other"))
    with pytest.raises(RagError, match="a Ray worker loaded fake/bag-of-words .*other"):
        build_index(config, FakeEmbedder(), progress=False, engine=engine)
    assert not (tmp_path / "index" / "current").exists()


# --- a simulated two-node cluster, with the real model --------------------------------

@pytest.fixture
def two_nodes(local_ray):
    from ray.cluster_utils import Cluster

    ray.shutdown()  # the module's session; this test has its own cluster
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "object_store_memory": 80 * 2**20})
    cluster.add_node(num_cpus=1, object_store_memory=80 * 2**20)
    options = _init_options()
    options.pop("object_store_memory")
    ray.init(address=cluster.address, **options)
    yield cluster
    ray.shutdown()
    cluster.shutdown()


@pytest.mark.model
def test_two_node_cluster_real_model_equals_local(two_nodes, tmp_path, real_model):
    seeds = _copy_seeds(tmp_path / "seeds", 12)
    local, remote = _config(seeds, tmp_path / "local"), _config(seeds, tmp_path / "ray")
    nodes = tmp_path / "nodes"
    nodes.mkdir()
    from rag.model.transformer import load_embedder

    make = functools.partial(node_recording,
                             functools.partial(load_embedder, ModelConfig(threads=1)),
                             str(nodes))
    engine = RayEngine(remote.model, remote.chunking, make_embedder=make, batch_size=16)
    assert engine.pool_size() == 2
    build_index(local, real_model, progress=False)
    report = build_index(remote, real_model, progress=False, engine=engine)
    assert report.passages_embedded > 50
    assert len({p.read_text() for p in nodes.iterdir()}) == 2  # an embedder on each node
    _assert_same_index(local.index, remote.index, min_cosine=0.9999)


def test_missing_ray_is_a_clear_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(RagError, match=r"pip install \.\[ray\]"):
        RayEngine(ModelConfig())


def test_cli_says_how_to_install_ray(monkeypatch, capsys):
    import builtins

    from rag.cli import main

    real_import = builtins.__import__
    monkeypatch.setattr(builtins, "__import__", lambda name, *a, **k: (
        _raise(ImportError(f"No module named {name!r}")) if name.split(".")[0] == "ray"
        else real_import(name, *a, **k)))
    assert main(["index", "--engine", "ray"]) == 1
    assert "pip install .[ray]" in capsys.readouterr().err


def _raise(exc: Exception):
    raise exc


def test_address_needs_the_ray_engine(capsys):
    from rag.cli import main

    assert main(["index", "--address", "10.0.0.1:6379"]) == 1
    assert "needs --engine ray" in capsys.readouterr().err


@pytest.mark.parametrize("raw, match", [
    ({"engine": "spark"}, r"build.engine = 'spark' must be one of local, ray"),
    ({"ray_actors": -1}, r"build.ray_actors = -1 must be between 0"),
])
def test_build_config_rules(tmp_path, raw, match):
    from rag.errors import ConfigError

    with pytest.raises(ConfigError, match=match):
        config_from_dict({"build": raw}, tmp_path)


def test_build_config_keys(tmp_path):
    config = config_from_dict({"build": {"engine": "ray", "ray_address": "auto",
                                         "ray_actors": 3}}, tmp_path)
    assert (config.build.engine, config.build.ray_address, config.build.ray_actors) == (
        "ray", "auto", 3)
