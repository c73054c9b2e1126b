"""The build's heavy stages on a Ray cluster: releases read and cut into passages by Ray
tasks, passage texts embedded by a pool of Ray actors (Ray Data ``map_batches``).

Everything else (the plan, reusing the last generation, assembling and writing) stays in
the driver, in ``rag.index.build``, so a Ray build writes the index a local build writes:

- ``load`` goes through ``load_releases`` with its reading step sent to the cluster, so
  file stamps, reuse of unchanged files, skipped files and the duplicate-url check are
  the local ones; each task also cuts the releases it parsed into passages with the
  model's own tokenizer, and ``chunk`` hands those to the plan (the same function cut
  them, so the plan is the same);
- ``embed`` streams the texts through an actor pool: each actor builds its embedder once,
  from the model config (the driver's model is never pickled), and checks it is the
  driver's model (same id, dimension and variant) before embedding anything.

Ray is imported only here and only when a Ray build is asked for (``pip install .[ray]``).
Every node must see the seeds folder at the same path (a shared or synced folder).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import pickle
import re
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ..config import ChunkConfig, ModelConfig
from ..errors import ConfigError, RagError, ReleaseError
from ..ingest.chunking import Passage, TokenCounter
from ..ingest.releases import LoadResult, Release, Reuse, load_releases
from ..model.embedder import Embedder, ModelInfo
from .build import chunk_here
from .engine import EmbeddedBatch, Spans

log = logging.getLogger(__name__)

READ_BATCH = 32  # release files per read task
EMBED_BATCH = 128  # passage texts per actor call (default): one block of the dataset each


def require_ray():
    """The ``ray`` module, or ConfigError saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401  (the [data] extra: pyarrow, pandas)
    except ImportError as exc:
        raise ConfigError(f"--engine ray needs Ray, which is not installed here ({exc}); "
                          "install it with `pip install .[ray]` (or `pip install "
                          "'ray[data]'`), or build with the local engine") from None
    return ray


# --- what runs on the workers ----------------------------------------------------------

@functools.lru_cache(maxsize=4)
def _worker_counter(make_counter: bytes) -> TokenCounter:
    """One token counter per worker process and factory (read tasks reuse processes)."""
    return pickle.loads(make_counter)()


def _read_batch(batch: dict[str, np.ndarray], root: str, chunking: ChunkConfig | None,
                make_counter: bytes | None) -> dict[str, np.ndarray]:
    """Read task: each file's Release (or why it cannot be used), and for a release its
    header and passages, pickled (a Release is not a table row)."""
    from ..ingest.releases import read_release

    count = _worker_counter(make_counter) if chunking is not None and make_counter else None
    out = []
    for path in batch["path"]:
        try:
            release = read_release(Path(path), Path(root))
        except ReleaseError as exc:
            out.append(pickle.dumps(("error", str(exc))))
            continue
        cut = chunk_here(release, chunking, count) if count is not None else None
        out.append(pickle.dumps(("release", release, cut)))
    return {"k": batch["k"], "payload": np.array(out, dtype=object)}


class _EmbedActor:
    """One embedder per actor, built once from the factory the driver sent."""

    def __init__(self, make_embedder: Callable[[], Embedder], expected: ModelInfo):
        self._embedder = make_embedder()
        self._expected = expected

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        info = self._embedder.info
        if (info.id, info.dim, info.precision, info.variant) != (
                self._expected.id, self._expected.dim, self._expected.precision,
                self._expected.variant):
            # Vectors of another model or variant must never join the index.
            raise RuntimeError(f"a Ray worker loaded {info.id} ({info.precision}, "
                               f"{info.variant or 'no variant'}, dim {info.dim}) but the build "
                               f"embeds with {self._expected.id} ({self._expected.precision}, "
                               f"{self._expected.variant or 'no variant'}, dim "
                               f"{self._expected.dim})")
        texts = [str(t) for t in batch["text"]]
        spans = [[(int(a), int(b)) for a, b in np.asarray(s, dtype=np.int64).reshape(-1, 2)]
                 for s in batch["spans"]]
        vectors, pooled = self._embedder.encode(texts, spans)
        return {"row": np.asarray(batch["row"], dtype=np.int64),
                "vector": np.asarray(vectors, dtype=np.float32),
                # Flat per row: a row with no spans is an empty array, not a (0, dim) tensor.
                "pooled": np.array([np.asarray(p, dtype=np.float32).reshape(-1)
                                    for p in pooled] + [None], dtype=object)[:-1]}


# --- the engine ------------------------------------------------------------------------

class RayEngine:
    """Reading, chunking and embedding on a Ray cluster (see the module docstring).

    Args:
        model: the model settings each actor builds its embedder from (``threads`` is set
            to ``cpus_per_actor``).
        chunking: the chunking settings; read tasks then cut releases into passages too
            (None: the driver cuts them).
        address: the cluster to join (``auto``, ``ray://host:10001``, ``host:6379``); None
            starts a Ray instance on this machine for the build.
        actors: embedders in the pool (0: one per ``cpus_per_actor`` CPUs of the cluster).
        cpus_per_actor: CPUs each embedder asks Ray for, and the threads it uses.
        batch_size: passage texts per actor call (a block of the dataset each).
        retries: how often a dead actor is restarted and its batch tried again, and a
            failed read task rerun, before the build fails.
        make_embedder, make_counter: what actors and read tasks call to get an embedder and
            a token counter (default: the model config's; tests pass small fakes). They
            are pickled, so they must be importable functions or classes on the workers.
        init: extra ``ray.init`` arguments when this engine starts or joins Ray (e.g.
            ``num_cpus``, ``object_store_memory``).

    Raises:
        ConfigError: Ray is not installed.
    """

    name = "ray"

    def __init__(self, model: ModelConfig, chunking: ChunkConfig | None = None, *,
                 address: str | None = None, actors: int = 0, cpus_per_actor: int = 1,
                 batch_size: int = EMBED_BATCH, retries: int = 2, make_embedder: Callable[[], Embedder] | None = None,
                 make_counter: Callable[[], TokenCounter] | None = None,
                 init: dict[str, Any] | None = None):
        require_ray()
        if actors < 0 or cpus_per_actor < 1 or batch_size < 1 or retries < 0:
            raise ConfigError(f"RayEngine: actors = {actors}, cpus_per_actor = "
                              f"{cpus_per_actor}, batch_size = {batch_size}, retries = "
                              f"{retries}: actors must be 0 (automatic) or more, "
                              "cpus_per_actor and batch_size 1 or more, retries 0 or more")
        from ..model.transformer import load_embedder, load_token_counter

        self.address = address
        self.actors = actors
        self.cpus_per_actor = cpus_per_actor
        self.batch_size = batch_size
        self.retries = retries
        self._chunking = chunking
        actor_model = dataclasses.replace(model, threads=cpus_per_actor)
        self._make_embedder = make_embedder or functools.partial(load_embedder, actor_model)
        self._make_counter = make_counter or functools.partial(load_token_counter, model)
        self._init = dict(init or {})
        self._started = False  # this engine called ray.init, so it shuts Ray down
        # Release id -> (content hash, header, passages) cut by the read tasks.
        self._cut: dict[str, tuple[str, str, tuple[Passage, ...]]] = {}
        self.stats: dict[str, float] = {}  # figures of the last load and embed (benchmarks)

    # -- the session ---------------------------------------------------------------

    def _ray(self):
        """Ray, joined (or started) on first use; a session already open is used as is."""
        ray = require_ray()
        if not ray.is_initialized():
            options = dict(include_dashboard=False, log_to_driver=False,
                           logging_level=logging.WARNING, configure_logging=True)
            options.update(self._init)
            try:
                ray.init(address=self.address, **options)
            except Exception as exc:  # ConnectionError, ValueError, RuntimeError ...
                where = f"the Ray cluster at {self.address}" if self.address else "Ray here"
                raise RagError(f"cannot start or join {where}: {_first_line(exc)} (start one "
                               "with `ray start --head`, then pass --address auto on that "
                               "machine; naming HOST:6379 also needs RAY_AUTH_MODE=token and "
                               "the head's ~/.ray/auth_token)") from None
            self._started = True
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        return ray

    def close(self) -> None:
        """Shut Ray down if this engine started or joined it (a session the caller opened
        is left open)."""
        if self._started:
            import ray

            ray.shutdown()
            self._started = False

    def __enter__(self) -> RayEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def pool_size(self) -> int:
        """Embedders in the pool: ``actors``, or as many as the cluster's CPUs hold."""
        if self.actors:
            return self.actors
        cpus = int(self._ray().cluster_resources().get("CPU", 1))
        return max(1, cpus // self.cpus_per_actor)

    # -- the Engine protocol -------------------------------------------------------

    def load(self, seeds: str | Path, reuse: Reuse | None = None) -> LoadResult:
        """``load_releases`` with the files that are not reused read on the cluster."""
        self._cut.clear()
        self.stats["read_files"] = 0
        return load_releases(seeds, reuse=reuse, read=self._read)

    def _read(self, paths: list[Path], root: Path) -> list[Release | ReleaseError]:
        if not paths:
            return []
        ray = self._ray()
        counter = None
        if self._chunking is not None:
            from ray import cloudpickle

            # Bytes, so each worker process builds one counter per factory (lru_cache).
            counter = cloudpickle.dumps(self._make_counter)
        ds = ray.data.from_items([{"k": k, "path": str(p)} for k, p in enumerate(paths)],
                                 override_num_blocks=-(-len(paths) // READ_BATCH))
        with _no_deprecation_warnings():
            ds = ds.map_batches(_read_batch, batch_size=READ_BATCH, batch_format="numpy",
                                fn_kwargs={"root": str(root), "chunking": self._chunking,
                                           "make_counter": counter},
                                max_retries=self.retries)
        out: list[Release | ReleaseError | None] = [None] * len(paths)
        started = time.perf_counter()
        for batch in _stream(ds, "reading release files"):
            for k, payload in zip(batch["k"], batch["payload"]):
                kind, *rest = pickle.loads(payload)
                if kind == "error":
                    out[int(k)] = ReleaseError(rest[0])
                    continue
                release, cut = rest
                out[int(k)] = release
                if cut is not None:
                    self._cut[release.id] = (release.content_hash, cut[0], tuple(cut[1]))
        self.stats["read_s"] = time.perf_counter() - started
        self.stats["read_files"] = len(paths)
        self.stats["cut_releases"] = len(self._cut)
        missing = [str(paths[k]) for k, r in enumerate(out) if r is None]
        if missing:
            raise RagError(f"the Ray build lost {len(missing)} release file(s) while reading "
                           f"(first: {missing[0]}); the index was not changed")
        return out  # type: ignore[return-value]

    def chunk(self, release: Release, chunking: ChunkConfig,
              count: TokenCounter) -> tuple[str, list[Passage]]:
        """The header and passages a read task cut for this release, or cut here when
        there are none for its content and these settings."""
        cut = self._cut.get(release.id)
        if cut is not None and cut[0] == release.content_hash and chunking == self._chunking:
            return cut[1], list(cut[2])
        return chunk_here(release, chunking, count)

    def embed(self, embedder: Embedder, texts: Sequence[str],
              spans: Sequence[Spans]) -> Iterator[EmbeddedBatch]:
        """Vectors for ``texts``, batch by batch as the actors finish them (in any order;
        ``rows`` say which texts). ``embedder`` is the driver's: only its ``info`` is
        used, to check the actors' models."""
        if not len(texts):
            return
        ray = self._ray()
        import pyarrow as pa

        # Longest first: long texts start early (the last batches are the short ones),
        # and a batch holds texts of similar length.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        tables = []
        for i in range(0, len(order), self.batch_size):
            rows = order[i:i + self.batch_size]
            tables.append(pa.table({
                "row": pa.array(rows, type=pa.int64()),
                "text": pa.array([texts[r] for r in rows], type=pa.large_string()),
                "spans": pa.array([[x for span in spans[r] for x in span] for r in rows],
                                  type=pa.list_(pa.int32()))}))
        with _no_deprecation_warnings():
            ds = ray.data.from_arrow(tables).map_batches(
                _EmbedActor, fn_constructor_args=(self._make_embedder, embedder.info),
                batch_size=None, batch_format="numpy", zero_copy_batch=True,
                compute=ray.data.ActorPoolStrategy(size=min(self.pool_size(), len(tables))),
                num_cpus=self.cpus_per_actor, max_restarts=self.retries,
                max_task_retries=self.retries)
        dim = embedder.info.dim
        started = time.perf_counter()
        self.stats.pop("embed_first_s", None)
        for batch in _stream(ds, "embedding passages"):
            self.stats.setdefault("embed_first_s", time.perf_counter() - started)
            self.stats["embed_s"] = time.perf_counter() - started
            yield EmbeddedBatch(batch["row"].tolist(), np.asarray(batch["vector"], np.float32),
                                [np.asarray(p, dtype=np.float32).reshape(-1, dim)
                                 for p in batch["pooled"]])


@contextlib.contextmanager
def _no_deprecation_warnings():
    """Ray 2.60 warns that retry settings passed as ``**ray_remote_args`` move elsewhere
    in 2.64 (the ``ray`` extra stays below it); they are still the way to set them."""
    from ray.util.annotations import RayDeprecationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RayDeprecationWarning)
        yield


def _stream(ds, what: str) -> Iterator[dict[str, np.ndarray]]:
    """The dataset's output blocks as they are done; a failure on the cluster becomes one
    RagError naming the stage (the build then stops before writing anything)."""
    try:
        yield from ds.iter_batches(batch_size=None, batch_format="numpy")
    except RagError:
        raise
    except Exception as exc:  # Ray raises many kinds: actor died, task failed, user code
        raise RagError(f"the Ray build failed while {what}: {_reason(exc)}; "
                       "the index was not changed (run the build again)") from exc


_ERROR_LINE = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception): \S")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _reason(exc: BaseException) -> str:
    """What went wrong, in one line: a worker's own error when Ray kept its text (a user
    error reaches the driver as text inside Ray's wrapper), else the innermost error."""
    lines = [line.strip() for line in _ANSI.sub("", str(exc)).splitlines()]
    own = [line for line in lines if _ERROR_LINE.match(line)
           and not line.startswith(("ray.", "Ray", "UserCodeException"))]
    if own:
        return own[-1]
    if not type(exc).__module__.startswith("ray"):
        return _first_line(exc)  # a plain error raised in Ray's code: its own words
    return _first_line(_cause(exc))


def _cause(exc: BaseException) -> BaseException:
    """The innermost error Ray wrapped (a worker's own exception says the most)."""
    seen = {id(exc)}
    while True:
        # RayTaskError keeps the worker's error in ``cause``; Ray Data chains its own.
        inner = getattr(exc, "cause", None) or exc.__cause__
        if not isinstance(inner, BaseException) or id(inner) in seen:
            return exc
        seen.add(id(inner))
        exc = inner


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__
