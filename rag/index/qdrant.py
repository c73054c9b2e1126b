"""Serving searches from Qdrant: one collection per generation, behind one alias.

A collection ``<prefix>-<generation folder>`` holds one point per passage row (point
id = row) with

- ``dense``: the passage vector, by dot product (the vectors are unit length, so this is
  their cosine; Qdrant's cosine would normalise them again and change the last bits);
- ``bm25``: a sparse vector of our own BM25 term weights, document side only:
  ``tf / (tf + k1 * (1 - b + b * len / avg_len))`` per term id of the generation's
  vocabulary. The query vector carries ``repeats * idf`` from the generation's own
  ``LexicalIndex``, so the dot product is our BM25 score, and idf follows the passages
  an incremental build removed;
- payload ``day`` (the release date's ordinal, range-filtered) and ``category``
  (lower-cased), both with payload indexes.

A build publishes after the generation is written: it uploads the collection, checks
its count, then moves the alias ``<prefix>`` to it in one ``update_collection_aliases``
call, and drops collections whose generation folder is gone (so the previous one stays,
for rollback). A reader resolves the alias once, opens the generation folder it names
and queries that collection by name from then on: a publish during its life changes
nothing it sees.
"""

from __future__ import annotations

import atexit
import threading
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TypeVar

import numpy as np

from ..config import StoreConfig
from ..errors import ConfigError, IndexMismatchError, IndexNotFoundError, RagError, StoreError
from . import store
from .lexical import LexicalIndex
from .manifest import MANIFEST, Manifest
from .topk import top_rows
from .vectorstore import Fusion, Ranking, Where

DENSE, SPARSE = "dense", "bm25"
FORMAT = "rag-qdrant-1"
UPLOAD_BATCH = 256
# Extra points fetched per ranking: rows tied with the k-th are then cut by row, as
# ``top_rows`` cuts them, instead of in Qdrant's order.
SLACK = 16

T = TypeVar("T")

_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()


def _models():
    try:
        from qdrant_client import models
    except ImportError:
        raise ConfigError("store.backend qdrant needs qdrant-client; install it with "
                          "`pip install '.[qdrant]'`") from None
    return models


def connect(config: StoreConfig):
    """The process's client for the configured server or local-mode folder (local mode
    allows one client per folder, so the build and the loaded index share it).

    Raises:
        ConfigError: qdrant-client is not installed.
        StoreError: the local-mode folder is open in another process.
    """
    _models()
    from qdrant_client import QdrantClient

    key = ("url", config.qdrant_url) if config.qdrant_url else ("path", str(config.qdrant_path))
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            if config.qdrant_url:
                # No version probe: it runs in a thread of its own and warns there when
                # the server is down, which the first request reports as a StoreError.
                client = QdrantClient(url=config.qdrant_url, timeout=max(1, int(config.timeout)),
                                      check_compatibility=False)
            else:
                try:
                    client = QdrantClient(path=str(config.qdrant_path))
                except RuntimeError as exc:
                    raise StoreError(
                        f"store.qdrant_path {config.qdrant_path} is open in another process "
                        f"({exc}); qdrant-client's local mode allows one at a time: stop it, "
                        "or serve from a Qdrant server (store.qdrant_url)") from None
            _clients[key] = client
        return client


@atexit.register
def _close_clients() -> None:
    """Close clients while the interpreter still can (local mode saves on close)."""
    with _clients_lock:
        for client in _clients.values():
            try:
                client.close()
            except Exception:  # closing at exit is best effort
                pass
        _clients.clear()


def _where(config: StoreConfig) -> str:
    return f"Qdrant at {config.qdrant_url}" if config.qdrant_url else \
        f"Qdrant local mode in {config.qdrant_path}"


def collection_name(prefix: str, gen_dir: Path) -> str:
    """The collection that holds generation ``gen_dir``."""
    return f"{prefix}-{Path(gen_dir).name}"


class QdrantBackend:
    """Collections per generation behind the alias ``store.collection_prefix``."""

    name = "qdrant"

    def __init__(self, config: StoreConfig):
        self.config = config
        self.alias = config.collection_prefix
        self.client = connect(config)

    def _call(self, what: str, call: Callable[[], T]) -> T:
        """Run a client call; a failure becomes a StoreError naming what and where."""
        try:
            return call()
        except RagError:
            raise
        except Exception as exc:  # connection refused, timeouts, server-side errors
            detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else \
                type(exc).__name__
            raise StoreError(f"{_where(self.config)}: {what} failed ({detail})") from None

    def served_collection(self) -> str | None:
        """The collection the alias points to, or None."""
        aliases = self._call("listing aliases", self.client.get_aliases).aliases
        return next((a.collection_name for a in aliases if a.alias_name == self.alias), None)

    def serving(self, path: Path) -> Path:
        path = Path(path)
        if (path / MANIFEST).is_file():
            return path  # a generation folder named on purpose: its own collection
        store.resolve(path)  # no index at all: the usual message
        served = self.served_collection()
        if served is None:
            raise IndexNotFoundError(f"no collection is published under the alias "
                                     f"{self.alias!r} in {_where(self.config)}; run `rag index` "
                                     f"to publish {path}")
        gen_dir = path / served.removeprefix(f"{self.alias}-")
        if not served.startswith(f"{self.alias}-") or not (gen_dir / MANIFEST).is_file():
            raise IndexMismatchError(
                f"the alias {self.alias!r} in {_where(self.config)} serves {served}, which is "
                f"not a generation of {path}; run `rag index` to publish this index, or set "
                "store.collection_prefix to the one it was published under")
        return gen_dir

    def open(self, gen_dir: Path, generation: store.Generation, lexical: LexicalIndex,
             ef_search: int | None = None) -> QdrantStore:
        name = collection_name(self.alias, gen_dir)
        problem = self._mismatch(name, gen_dir, generation.manifest)
        if problem:
            raise IndexMismatchError(f"{gen_dir} cannot be served from {_where(self.config)}: "
                                     f"{problem}; run `rag index` to publish it", problem)
        return QdrantStore(self.client, name, generation.vectors, lexical, self.config.fusion,
                           self._call)

    def _mismatch(self, name: str, gen_dir: Path, manifest: Manifest) -> str:
        """Why collection ``name`` does not hold this generation ("" if it does)."""
        if not self._call(f"looking up {name}", lambda: self.client.collection_exists(name)):
            return f"collection {name} does not exist"
        info = self._call(f"reading {name}", lambda: self.client.get_collection(name))
        meta = info.config.metadata or {}
        want = _metadata(gen_dir, manifest)
        if any(meta.get(k) != v for k, v in want.items()):
            return (f"collection {name} holds {meta.get('passages')} passages of generation "
                    f"{meta.get('generation')} created {meta.get('created')}, the folder "
                    f"{want['passages']} created {want['created']}")
        # A server's points_count is approximate: count exactly.
        points = self._call(f"counting {name}",
                            lambda: self.client.count(name, exact=True)).count
        if points != want["passages"]:
            return (f"collection {name} holds {points} points for {want['passages']} "
                    "passages (an interrupted upload)")
        return ""

    def publish(self, index_dir: Path) -> str:
        gen_dir = store.resolve(index_dir)
        name = collection_name(self.alias, gen_dir)
        manifest = store.read_manifest(gen_dir)
        if self.served_collection() == name and not self._mismatch(name, gen_dir, manifest):
            return ""
        generation = store.read_generation(gen_dir)
        lexical = LexicalIndex.load(gen_dir / store.BM25)
        self._upload(name, gen_dir, generation, lexical)
        self._switch(name)
        self._prune(index_dir)
        return (f"published {len(generation.passages)} passages to {name} "
                f"({_where(self.config)}, alias {self.alias})")

    def rollback(self, index_dir: Path) -> Path:
        served = self.serving(index_dir)
        previous = store.previous(index_dir, served)
        name = collection_name(self.alias, previous)
        problem = self._mismatch(name, previous, store.read_manifest(previous))
        if problem:
            raise IndexMismatchError(f"cannot roll back to {previous.name}: {problem}", problem)
        self._switch(name)
        store.switch(index_dir, previous)  # so the next build starts from what is served
        return previous

    def _upload(self, name: str, gen_dir: Path, generation: store.Generation,
                lexical: LexicalIndex) -> None:
        models = _models()
        client = self.client
        if self._call(f"looking up {name}", lambda: client.collection_exists(name)):
            # Never served (the alias is elsewhere): what is left of an interrupted upload.
            self._call(f"dropping {name}", lambda: client.delete_collection(name))
        dim = generation.manifest.model.dim
        self._call(f"creating {name}", lambda: client.create_collection(
            name, vectors_config={DENSE: models.VectorParams(size=dim,
                                                             distance=models.Distance.DOT)},
            sparse_vectors_config={SPARSE: models.SparseVectorParams()},
            metadata=_metadata(gen_dir, generation.manifest), **self._layout()))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # local mode: indexes have no effect
            for field, schema in (("day", models.PayloadSchemaType.INTEGER),
                                  ("category", models.PayloadSchemaType.KEYWORD)):
                self._call(f"indexing {field} of {name}", lambda f=field, s=schema:
                           client.create_payload_index(name, f, field_schema=s))
        self._call(f"uploading to {name}", lambda: client.upload_points(
            name, _points(generation, lexical), batch_size=UPLOAD_BATCH, wait=True))
        count = self._call(f"counting {name}", lambda: client.count(name, exact=True)).count
        if count != len(generation.passages):
            raise StoreError(f"{_where(self.config)}: {name} holds {count} points after the "
                             f"upload, expected {len(generation.passages)}; run `rag index` again")

    def _layout(self) -> dict[str, int]:
        """Shards and replicas of a new collection on a server (local mode has neither)."""
        if not self.config.qdrant_url:
            return {}
        layout = {"replication_factor": self.config.replicas}
        if self.config.shards:
            layout["shard_number"] = self.config.shards
        return layout

    def _switch(self, name: str) -> None:
        """Move the alias to collection ``name`` in one request (readers resolving it see
        the old collection or the new one, never none)."""
        models = _models()
        ops: list[Any] = []
        if self.served_collection() is not None:
            ops.append(models.DeleteAliasOperation(
                delete_alias=models.DeleteAlias(alias_name=self.alias)))
        ops.append(models.CreateAliasOperation(
            create_alias=models.CreateAlias(collection_name=name, alias_name=self.alias)))
        self._call(f"moving the alias {self.alias} to {name}",
                   lambda: self.client.update_collection_aliases(change_aliases_operations=ops))

    def _prune(self, index_dir: Path) -> None:
        """Drop this index's collections whose generation folder is gone (``store.prune``
        keeps the previous generation, so its collection stays for a rollback)."""
        served = self.served_collection()
        names = [c.name for c in self._call("listing collections",
                                            self.client.get_collections).collections]
        for name in names:
            gen = name.removeprefix(f"{self.alias}-")
            if name != served and name.startswith(f"{self.alias}-gen-") \
                    and not (index_dir / gen / MANIFEST).is_file():
                self._call(f"dropping {name}", lambda n=name: self.client.delete_collection(n))


def _metadata(gen_dir: Path, manifest: Manifest) -> dict[str, Any]:
    """What a collection records of the generation it holds, checked when it is opened."""
    return {"format": FORMAT, "generation": Path(gen_dir).name,
            "passages": manifest.counts.passages, "created": manifest.created}


def _points(generation: store.Generation, lexical: LexicalIndex) -> Iterator[Any]:
    """One point per passage row: dense vector, BM25 document weights and the payload."""
    models = _models()
    indptr, terms, weights = lexical.document_weights()
    releases = generation.releases
    days = [r.date.toordinal() for r in releases]
    categories = [r.category.lower() for r in releases]
    owners = np.asarray(generation.passages["release"])
    for start in range(0, len(owners), UPLOAD_BATCH):
        end = min(start + UPLOAD_BATCH, len(owners))
        vectors = np.asarray(generation.vectors[start:end], dtype=np.float32).tolist()
        for row in range(start, end):
            a, b = int(indptr[row]), int(indptr[row + 1])
            release = int(owners[row])
            yield models.PointStruct(
                id=row,
                vector={DENSE: vectors[row - start],
                        SPARSE: models.SparseVector(indices=terms[a:b].tolist(),
                                                    values=weights[a:b].tolist())},
                payload={"day": days[release], "category": categories[release],
                         "release": releases[release].id})


class QdrantStore:
    """The searches of one generation, in its own collection (not through the alias).

    Qdrant finds the candidates (``SLACK`` more than asked for); they are re-scored with
    the generation's own arithmetic: dense ones with its float32 vectors, as the FAISS
    float16 scan's are, BM25 ones with ``LexicalIndex.scores_at``. Both back-ends then
    give the same scores, bit for bit, and the same order where rows nearly tie
    (Qdrant's sums differ from ours in the last place, which would reorder them).
    """

    name = "qdrant"

    def __init__(self, client: Any, collection: str, vectors: np.ndarray,
                 lexical: LexicalIndex, fusion: str,
                 call: Callable[[str, Callable[[], Any]], Any]):
        self.client = client
        self.collection = collection
        self._vectors = vectors
        self._lexical = lexical
        self._fusion = fusion
        self._call = call
        self._models = _models()

    def _filter(self, where: Where | None):
        if where is None:
            return None
        models = self._models
        must = []
        if where.since or where.until:
            must.append(models.FieldCondition(key="day", range=models.Range(
                gte=where.since.toordinal() if where.since else None,
                lte=where.until.toordinal() if where.until else None)))
        if where.category:
            must.append(models.FieldCondition(key="category",
                                              match=models.MatchValue(value=where.category)))
        return models.Filter(must=must)

    def _sparse(self, terms: Sequence[str]):
        weights = self._lexical.query_weights(terms)
        if not weights:
            return None
        return self._models.SparseVector(indices=list(weights), values=list(weights.values()))

    def _request(self, query: Any, using: str, k: int, where: Where | None):
        return self._models.QueryRequest(query=query, using=using, filter=self._filter(where),
                                         limit=k + SLACK, with_payload=False)

    def dense(self, vector: np.ndarray, k: int, where: Where | None) -> Ranking:
        rows = self._batch([self._request(_dense(vector), DENSE, k, where)])[0]
        return self._rescored(rows, vector, k)

    def lexical(self, terms: Sequence[str], k: int, where: Where | None) -> Ranking:
        sparse = self._sparse(terms)
        if sparse is None:
            return _empty()
        return self._rescored_bm25(self._batch([self._request(sparse, SPARSE, k, where)])[0],
                                   terms, k)

    def fused(self, vector: np.ndarray, terms: Sequence[str], k: int, where: Where | None,
              fusion: Fusion) -> Ranking:
        sparse = self._sparse(terms)
        if self._fusion == "server" and sparse is not None:
            return self._fused_in_qdrant(vector, sparse, k, where, fusion)
        requests = [self._request(_dense(vector), DENSE, k, where)]
        if sparse is not None:
            requests.append(self._request(sparse, SPARSE, k, where))
        found = self._batch(requests)  # both searches in one round trip
        dense_rows = self._rescored(found[0], vector, k)[0]
        bm25_rows = self._rescored_bm25(found[1], terms, k)[0] if sparse is not None else \
            _empty()[0]
        return fusion.fuse(dense_rows, bm25_rows)

    def _fused_in_qdrant(self, vector: np.ndarray, sparse: Any, k: int, where: Where | None,
                         fusion: Fusion) -> Ranking:
        """Both searches and the fusion in one query. Qdrant scores rank r (from 1)
        ``1 / (r / w + k' - 1)``: with ``k' = rrf_k + 1`` and one weight w for both
        rankings, that orders rows as ``w / (rrf_k + r)`` does (config.py refuses unequal
        weights with this fusion). Ties within a ranking are ordered by Qdrant, not by
        row, so an order may differ from ours where scores tie."""
        models = self._models
        flt = self._filter(where)
        response = self._call(f"searching {self.collection}", lambda: self.client.query_points(
            self.collection,
            prefetch=[models.Prefetch(query=_dense(vector), using=DENSE, filter=flt, limit=k),
                      models.Prefetch(query=sparse, using=SPARSE, filter=flt, limit=k)],
            query=models.RrfQuery(rrf=models.Rrf(k=fusion.rrf_k + 1)),
            limit=2 * k, with_payload=False))
        rows, scores = _ranking(response.points, 2 * k)
        return rows, scores * fusion.dense_weight

    def _batch(self, requests: list[Any]) -> list[list[Any]]:
        """The scored points of each request, all sent in one call."""
        responses = self._call(f"searching {self.collection}",
                               lambda: self.client.query_batch_points(self.collection,
                                                                      requests=requests))
        return [r.points for r in responses]

    def _rescored(self, points: Sequence[Any], vector: np.ndarray, k: int) -> Ranking:
        """The best k dense candidates by their float32 inner product with ``vector``."""
        rows = np.sort(np.fromiter((int(p.id) for p in points), dtype=np.int64,
                                   count=len(points)))  # in order: memory-mapped reads
        query = np.asarray(vector, dtype=np.float32)
        return top_rows(np.asarray(self._vectors[rows]) @ query, k, rows)

    def _rescored_bm25(self, points: Sequence[Any], terms: Sequence[str], k: int) -> Ranking:
        """The best k BM25 candidates by our own float32 score (``LexicalIndex.scores``)."""
        rows = np.sort(np.fromiter((int(p.id) for p in points), dtype=np.int64,
                                   count=len(points)))
        return top_rows(self._lexical.scores_at(terms, rows), k, rows, positive_only=True)


def _dense(vector: np.ndarray) -> list[float]:
    return np.asarray(vector, dtype=np.float32).tolist()


def _empty() -> Ranking:
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)


def _ranking(points: Sequence[Any], k: int) -> Ranking:
    """The best k of scored points, ties broken by row, scores in float32."""
    rows = np.fromiter((int(p.id) for p in points), dtype=np.int64, count=len(points))
    scores = np.fromiter((p.score for p in points), dtype=np.float64,
                         count=len(points)).astype(np.float32)
    order = np.lexsort((rows, -scores))[:k]
    return rows[order], scores[order]
