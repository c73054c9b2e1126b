"""How a seeds folder differs from the index built from it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import RagError
from ..ingest.releases import file_stamp, find_release_files, read_release
from .manifest import Manifest


@dataclass(frozen=True)
class Staleness:
    """Release files added, changed and removed since the index was built."""

    added: list[str]
    changed: list[str]
    removed: list[str]

    @property
    def stale(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def describe(self) -> str:
        parts = [f"{len(v)} {k}" for k, v in (("new", self.added), ("changed", self.changed),
                                              ("removed", self.removed)) if v]
        return ", ".join(parts)


# A file's stamp -> its content hash, or None when it is not a usable release.
SeenFiles = dict[str, tuple[tuple[int, int], str | None]]


def check_staleness(manifest: Manifest, seeds: Path, seen: SeenFiles | None = None
                    ) -> Staleness:
    """Compare the seeds folder with an index manifest.

    Files whose size and modification time match the manifest are taken as
    unchanged; the others are parsed and compared by content hash, so a `touch`
    alone does not make the index stale.

    Args:
        seen: what earlier checks found by parsing (release id -> stamp and content
            hash), kept by a caller that checks again and again (the web app's status
            line): a file whose stamp it matches is not parsed again. Updated in place.
    """
    seeds = Path(seeds)
    indexed, skipped = manifest.releases, manifest.skipped
    if not seeds.is_dir():
        return Staleness([], [], sorted(indexed))
    files, _ = find_release_files(seeds)
    added, changed, present = [], [], set()
    for path in files:
        rid = path.relative_to(seeds).as_posix()
        present.add(rid)
        try:
            stamp = file_stamp(path)
        except OSError:
            continue
        entry = indexed.get(rid) or skipped.get(rid)
        if entry is not None and entry.stamp == stamp:
            continue
        known = seen.get(rid) if seen is not None else None
        if known is not None and known[0] == stamp:
            content_hash = known[1]
        else:
            try:
                content_hash = read_release(path, seeds).content_hash
            except RagError:
                content_hash = None
            if seen is not None:
                seen[rid] = (stamp, content_hash)
        if content_hash is None:
            if rid in indexed:
                changed.append(rid)  # was good, now bad: the next build drops it
            elif rid not in skipped:
                added.append(rid)
            continue
        if rid not in indexed:
            added.append(rid)
        elif indexed[rid].hash != content_hash:
            changed.append(rid)
    removed = sorted(set(indexed) - present)
    return Staleness(sorted(added), sorted(changed), removed)
