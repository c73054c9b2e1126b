"""The index manifest: what an index was built from and with, as typed records.

``manifest.json`` is read into a ``Manifest`` once (``read_manifest``) and written from
one (``write_manifest``); nothing else parses it. ``Manifest.check`` is the one
compatibility check: the build calls it to decide between an incremental update and a
full rebuild, and loading calls it to refuse an index built with other settings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..config import ChunkConfig, Config, RetrievalConfig
from ..errors import IndexCorruptError, IndexMismatchError
from ..model.embedder import ModelInfo
from .files import FIX, read_json

FORMAT_VERSION = 4
MANIFEST = "manifest.json"
# What a generation holds: ``hybrid`` has everything; ``lexical`` has releases, passages,
# sentences and BM25 but no vectors yet (published first by a large build, so the corpus
# is searchable before the embedding is done; see rag.index.staged).
HYBRID, LEXICAL = "hybrid", "lexical"
KINDS = (HYBRID, LEXICAL)

Stamp = tuple[int, int]  # a file's size and modification time in ns


@dataclass(frozen=True)
class ModelSettings:
    """The model as the manifest records it (``name`` as configured, the rest as run)."""

    name: str
    id: str
    dim: int
    precision: str
    variant: str

    @classmethod
    def of(cls, name: str, info: ModelInfo) -> ModelSettings:
        return cls(name, info.id, info.dim, info.precision, info.variant)


@dataclass(frozen=True)
class IndexSettings:
    """The settings that shape an index's passages and vectors; any difference means a
    full rebuild."""

    model: ModelSettings
    chunking: ChunkConfig
    format_version: int = FORMAT_VERSION

    @classmethod
    def of(cls, config: Config, info: ModelInfo) -> IndexSettings:
        return cls(ModelSettings.of(config.model.name, info), config.chunking)


@dataclass(frozen=True)
class FaissSettings:
    """The dense index: ``flat`` (float16 storage, re-scored in float32) or ``hnsw``
    (``m`` links per node). Switching rewrites the FAISS file without re-embedding."""

    type: str = "flat"
    metric: str = "inner_product"
    storage: str | None = "float16"
    m: int | None = None

    @classmethod
    def of(cls, retrieval: RetrievalConfig, passages: int) -> FaissSettings:
        """The dense index the settings ask for, for an index of ``passages`` passages
        (``auto``: hnsw from ``retrieval.hnsw_from`` passages on)."""
        kind = retrieval.faiss
        if kind == "auto":
            kind = "hnsw" if passages >= retrieval.hnsw_from else "flat"
        if kind == "hnsw":
            return cls("hnsw", storage=None, m=retrieval.hnsw_m)
        return cls("flat")

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class ReleaseEntry:
    """One indexed release: its content hash, the stamp of its file when it was read
    (None if it could not be taken), and how many passages it has."""

    hash: str
    stamp: Stamp | None
    passages: int = 0


@dataclass(frozen=True)
class SkippedEntry:
    """A file the build skipped: why, and its stamp, so an unchanged bad file is not
    read again to find it still bad."""

    reason: str
    stamp: Stamp | None


@dataclass(frozen=True)
class Counts:
    releases: int
    passages: int
    skipped: int


@dataclass(frozen=True)
class Manifest:
    """Everything ``manifest.json`` says about one generation of an index."""

    settings: IndexSettings
    counts: Counts
    releases: Mapping[str, ReleaseEntry]
    skipped: Mapping[str, SkippedEntry] = field(default_factory=dict)
    faiss: FaissSettings = field(default_factory=FaissSettings)
    bm25: Mapping[str, Any] = field(default_factory=dict)  # the lexical index's own record
    package_version: str = ""
    created: str = ""
    seeds: str = ""
    reader: int = 0  # rag.ingest.releases.READER_VERSION of the build (0: before it existed)
    kind: str = HYBRID  # HYBRID or LEXICAL (no vectors, FAISS or sentence vectors)

    @property
    def lexical_only(self) -> bool:
        return self.kind == LEXICAL

    @property
    def model(self) -> ModelSettings:
        return self.settings.model

    @property
    def chunking(self) -> ChunkConfig:
        return self.settings.chunking

    def check(self, expected: IndexSettings, faiss: FaissSettings | None = None,
              where: Path | str = "the index") -> None:
        """Refuse an index built with other settings.

        Args:
            expected: the settings in force.
            faiss: the dense index type in force, if it matters to the caller (a build
                rewrites another type by itself; a search cannot).
            where: the index folder, for the message.

        Raises:
            IndexMismatchError: with ``reason`` saying what differs.
        """
        reason = _difference(self.settings, expected)
        if reason:
            raise IndexMismatchError(f"{where} was built with other settings: {reason}; {FIX}",
                                     reason)
        if faiss is not None and faiss.type != self.faiss.type:
            raise IndexMismatchError(
                f"{where} has a {self.faiss.type} FAISS index, the config asks for "
                f"{faiss.type}; run `rag index` to rewrite it (no re-embedding needed)",
                f"faiss.type is {self.faiss.type!r} in the index, {faiss.type!r} in the config")

    def to_json(self) -> dict[str, Any]:
        """The JSON object written to ``manifest.json``."""
        return {
            "format_version": self.settings.format_version,
            "kind": self.kind,
            "model": asdict(self.settings.model),
            "chunking": asdict(self.settings.chunking),
            "package_version": self.package_version,
            "created": self.created,
            "seeds": self.seeds,
            "reader": self.reader,
            "faiss": self.faiss.to_json(),
            "bm25": dict(self.bm25),
            "counts": asdict(self.counts),
            "releases": {rid: {"hash": e.hash, "stamp": _stamp_json(e.stamp),
                               "passages": e.passages} for rid, e in self.releases.items()},
            "skipped": {path: {"reason": e.reason, "stamp": _stamp_json(e.stamp)}
                        for path, e in self.skipped.items()},
        }


def _difference(have: IndexSettings, want: IndexSettings) -> str:
    if have.format_version != want.format_version:
        return (f"index format {have.format_version} is not the supported "
                f"{want.format_version}")
    for section in ("model", "chunking"):
        found, wanted = asdict(getattr(have, section)), asdict(getattr(want, section))
        for key, value in wanted.items():
            if key == "name":
                continue  # the same model may be named by a path or by id
            if found.get(key) != value:
                return (f"{section}.{key} is {found.get(key)!r} in the index, {value!r} in "
                        "the config")
    return ""


def _stamp_json(stamp: Stamp | None) -> list[int] | None:
    return None if stamp is None else list(stamp)


def _stamp(value: Any) -> Stamp | None:
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return (value[0], value[1])
    return None


def read_manifest(gen_dir: Path) -> Manifest:
    """Read one generation's manifest.

    Raises:
        IndexCorruptError: missing, not JSON, or a section not as ``rag index`` writes it.
        IndexMismatchError: another index format (its other sections are not read).
    """
    path = Path(gen_dir) / MANIFEST
    raw = read_json(path)
    if not isinstance(raw, dict) or "format_version" not in raw:
        raise IndexCorruptError(f"{path} is not an index manifest; {FIX}")
    if raw["format_version"] != FORMAT_VERSION:
        reason = f"index format {raw['format_version']} is not the supported {FORMAT_VERSION}"
        raise IndexMismatchError(f"{gen_dir} was built with other settings: {reason}; {FIX}",
                                 reason)
    # A hand-edited section of the wrong shape would otherwise fail later as a bare
    # AttributeError or KeyError in the build, the search or the status line.
    bad = [key for key in ("model", "chunking", "counts", "releases")
           if not isinstance(raw.get(key), dict)]
    bad += [key for key in ("skipped", "faiss", "bm25") if not isinstance(raw.get(key, {}), dict)]
    if "releases" not in bad and not all(isinstance(e, dict) and isinstance(e.get("hash"), str)
                                         for e in raw["releases"].values()):
        bad.append("releases (an entry without a hash)")
    if raw.get("kind", HYBRID) not in KINDS:
        bad.append(f"kind {raw.get('kind')!r} (not {' or '.join(KINDS)})")
    if not bad:
        try:
            return _manifest(raw)
        except (TypeError, ValueError) as exc:
            bad.append(f"a value ({exc})")
    raise IndexCorruptError(f"{path} is damaged: {', '.join(bad)} not as written by "
                            f"`rag index`; {FIX}")


def _manifest(raw: Mapping[str, Any]) -> Manifest:
    model, counts = raw["model"], raw["counts"]
    settings = IndexSettings(
        ModelSettings(str(model.get("name", "")), str(model.get("id", "")),
                      int(model.get("dim", 0)), str(model.get("precision", "")),
                      str(model.get("variant", ""))),
        ChunkConfig(**raw["chunking"]), int(raw["format_version"]))
    faiss = raw.get("faiss", {})
    return Manifest(
        settings=settings,
        counts=Counts(int(counts.get("releases", -1)), int(counts.get("passages", -1)),
                      int(counts.get("skipped", 0))),
        releases={rid: ReleaseEntry(e["hash"], _stamp(e.get("stamp")), int(e.get("passages", 0)))
                  for rid, e in raw["releases"].items()},
        skipped={path: SkippedEntry(str(e.get("reason", "")), _stamp(e.get("stamp")))
                 for path, e in raw.get("skipped", {}).items() if isinstance(e, dict)},
        faiss=FaissSettings(str(faiss.get("type", "flat")), str(faiss.get("metric",
                                                                            "inner_product")),
                            faiss.get("storage"), faiss.get("m")),
        bm25=dict(raw.get("bm25", {})),
        package_version=str(raw.get("package_version", "")),
        created=str(raw.get("created", "")),
        seeds=str(raw.get("seeds", "")),
        reader=int(raw.get("reader", 0)),
        kind=str(raw.get("kind", HYBRID)),
    )
