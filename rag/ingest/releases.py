"""Release files -> ``Release`` objects: front matter, plain-text body, bad files skipped."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml

from ..errors import ReleaseError
from .markdown import markdown_to_text

log = logging.getLogger(__name__)

# The largest release of 2021-2025 is 250 KB; a file 8 times that is not a release.
MAX_FILE_BYTES = 2 * 1024 * 1024
# Bump when reading a file gives another Release for the same bytes (front matter rules,
# rag.ingest.markdown): an index built by an older reader then reads every file again
# instead of reusing releases by file stamp, and re-embeds only what came out different.
READER_VERSION = 2  # 2: HTML comments removed


def _timestamp_or_text(loader, node):
    """A YAML timestamp, except that an impossible one (``date: 2022-02-30``) stays text,
    for the date check to name, instead of raising a bare ValueError."""
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except (ValueError, AttributeError):  # AttributeError: `!!timestamp abc`
        return loader.construct_scalar(node)


class _Loader(yaml.SafeLoader):
    """yaml.SafeLoader with ``_timestamp_or_text``."""


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)

if getattr(yaml, "__with_libyaml__", False):
    class _FastLoader(yaml.CSafeLoader):
        """The same loader on libyaml's parser (several times faster on front matter)."""

    _FastLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)
else:  # PyYAML built without libyaml
    _FastLoader = None  # type: ignore[assignment,misc]


def _front_matter(header: str):
    """The front matter's YAML: parsed by libyaml when PyYAML has it; anything it
    refuses is parsed again by the pure-Python loader, whose error is the one reported."""
    if _FastLoader is not None:
        try:
            return yaml.load(header, Loader=_FastLoader)
        except Exception:
            pass
    return yaml.load(header, Loader=_Loader)


def format_day(day: dt.date) -> str:
    """A date as releases and answers write it: ``March 24, 2022``."""
    return f"{day:%B} {day.day}, {day.year}"


@dataclass(frozen=True)
class Release:
    """One briefing-room release.

    ``id`` is the file's path relative to the seeds folder (always with ``/``);
    ``body`` is the normalised plain text that passages and quotes are slices of.
    """

    id: str
    title: str
    date: dt.date
    category: str
    url: str
    published: str
    modified: str
    body: str

    @functools.cached_property
    def content_hash(self) -> str:
        """Hash of everything a passage or a citation shows, so any edit changes it."""
        h = hashlib.sha256()
        for part in (self.title, self.date.isoformat(), self.category, self.url, self.body):
            h.update(part.encode("utf-8"))
            h.update(b"\0")
        return h.hexdigest()[:32]


@dataclass(frozen=True)
class Skipped:
    """A file that was not loaded, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class LoadResult:
    """The releases loaded, the files skipped, and each file's stamp (see ``file_stamp``)
    taken before it was read, by path relative to the seeds folder."""

    releases: list[Release]
    skipped: list[Skipped]
    stamps: dict[str, tuple[int, int]] = field(default_factory=dict)


# Given a file's id and stamp, a Release known to have been read from it at that stamp
# (or None to read the file).
Reuse = Callable[[str, tuple[int, int]], Release | None]


def _split_front_matter(text: str, where: str) -> tuple[str, str]:
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.startswith("---"):
        raise ReleaseError(f"{where}: no front matter (the file must start with a '---' line)")
    first_nl = text.find("\n")
    if first_nl < 0 or text[:first_nl].strip() != "---":
        raise ReleaseError(f"{where}: no front matter (the file must start with a '---' line)")
    pos = first_nl + 1
    while True:
        nl = text.find("\n", pos)
        line = text[pos:] if nl < 0 else text[pos:nl]
        if line.rstrip() == "---":
            return text[first_nl + 1:pos], ("" if nl < 0 else text[nl + 1:])
        if nl < 0:
            raise ReleaseError(f"{where}: front matter is never closed (no second '---' line)")
        pos = nl + 1


def _parse_date(value: object, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise ReleaseError(f"{where}: date {value!r} is not a valid YYYY-MM-DD date")


def _text_field(meta: dict, keys: tuple[str, ...]) -> str:
    for key in keys:
        value = meta.get(key)
        if value is None:
            continue
        if isinstance(value, list):  # `tags` may be a list; the first is the category
            value = value[0] if value else ""
        return str(value).strip()
    return ""


def _time_field(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value).strip()


def parse_release(text: str, release_id: str) -> Release:
    """Parse one release's file content.

    Args:
        text: the whole file, decoded.
        release_id: its path relative to the seeds folder; used in messages too.

    Returns:
        The release, with its body normalised to plain text.

    Raises:
        ReleaseError: front matter missing, unclosed or not YAML; title or date
            missing; date not a date; empty body.
    """
    if "\x00" in text:
        raise ReleaseError(f"{release_id}: binary file (contains NUL bytes)")
    header, raw_body = _split_front_matter(text, release_id)
    try:
        meta = _front_matter(header)
    # PyYAML's constructors also raise plain ValueError (`!!int abc`), RecursionError
    # (thousands of nested brackets) and others: any of them means unusable front matter.
    except Exception as exc:
        first = " ".join(str(exc).split()) or type(exc).__name__
        raise ReleaseError(f"{release_id}: front matter is not valid YAML ({first})") from None
    if not isinstance(meta, dict):
        raise ReleaseError(f"{release_id}: front matter is not a mapping of keys to values")
    title = _text_field(meta, ("title",))
    if not title:
        raise ReleaseError(f"{release_id}: missing title")
    if meta.get("date") in (None, ""):
        raise ReleaseError(f"{release_id}: missing date")
    date = _parse_date(meta["date"], release_id)
    body = markdown_to_text(raw_body)
    if not body:
        raise ReleaseError(f"{release_id}: empty body")
    return Release(
        id=release_id,
        title=" ".join(title.replace("\u00a0", " ").split()),
        date=date,
        category=_text_field(meta, ("category", "tags")),
        url=_text_field(meta, ("permalink", "source_url")),
        published=_time_field(meta.get("published_time")),
        modified=_time_field(meta.get("modified_time")),
        body=body,
    )


def read_release(path: Path, root: Path) -> Release:
    """Read and parse one file; ``root`` is the seeds folder its id is relative to.

    Raises:
        ReleaseError: unreadable, not a regular file, too large, not UTF-8, or any
            reason of parse_release.
    """
    release_id = path.relative_to(root).as_posix()
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            # A named pipe would block the build forever, a device (a link to
            # /dev/zero) would never end.
            raise ReleaseError(f"{release_id}: not a regular file")
        size = st.st_size
        if size > MAX_FILE_BYTES:
            raise ReleaseError(f"{release_id}: file is {size / 2**20:.1f} MB, more than the "
                               f"{MAX_FILE_BYTES // 2**20} MB a release may have")
        data = path.read_bytes()
    except OSError as exc:
        raise ReleaseError(f"{release_id}: cannot read ({exc.strerror or exc})") from None
    if b"\x00" in data:
        raise ReleaseError(f"{release_id}: binary file (contains NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReleaseError(f"{release_id}: not UTF-8 (byte 0x{data[exc.start]:02x} at "
                           f"offset {exc.start})") from None
    return parse_release(text, release_id)


def find_release_files(root: Path) -> tuple[list[Path], list[Skipped]]:
    """All ``*.md`` files below root, sorted, without following symlinked folders.

    Hidden files and folders are ignored. Unreadable folders are reported as skipped.
    """
    files: list[Path] = []
    skipped: list[Skipped] = []

    def on_error(exc: OSError) -> None:
        where = Path(exc.filename).relative_to(root).as_posix() if exc.filename else str(root)
        skipped.append(Skipped(where, f"cannot read folder ({exc.strerror or exc})"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.endswith(".md") and not name.startswith(".") and name.lower() != "readme.md":
                files.append(Path(dirpath) / name)
    files.sort(key=lambda p: p.relative_to(root).as_posix())
    return files, skipped


def file_stamp(path: Path) -> tuple[int, int]:
    """A file's size and modification time in ns: equal stamps are taken as equal content.

    Raises:
        OSError: the file cannot be stat'ed.
    """
    st = path.stat()
    return (st.st_size, st.st_mtime_ns)


# Reads the files given (below the seeds folder ``root``), in order: for each, its Release
# or the ReleaseError that says why it cannot be used. ``read_each`` does it here; a cluster
# engine (rag.index.ray_engine) reads them on its workers.
ReadMany = Callable[[list[Path], Path], list["Release | ReleaseError"]]


def read_each(paths: list[Path], root: Path) -> list[Release | ReleaseError]:
    """Read and parse each file in this process (the default ``ReadMany``)."""
    out: list[Release | ReleaseError] = []
    for path in paths:
        try:
            out.append(read_release(path, root))
        except ReleaseError as exc:
            out.append(exc)
    return out


def load_releases(root: str | Path, reuse: Reuse | None = None,
                  read: ReadMany = read_each) -> LoadResult:
    """Load every release below ``root``; bad files are skipped with a warning.

    Args:
        root: the seeds folder.
        reuse: called with a regular file's id and stamp before it is read; a Release it
            returns is used instead of parsing the file (an incremental build passes the
            releases of the last index whose file stamps are unchanged). Reused releases
            go through the same duplicate-url check as parsed ones.
        read: reads the files that are not reused (``read_each``: here, one by one).

    Raises:
        ReleaseError: ``root`` is not a folder (a bad file never raises).
    """
    root = Path(root)
    if not root.is_dir():
        raise ReleaseError(f"seeds folder {root} does not exist or is not a folder")
    files, skipped = find_release_files(root)
    stamps: dict[str, tuple[int, int]] = {}
    got: dict[int, Release | ReleaseError] = {}
    for k, path in enumerate(files):
        rid = path.relative_to(root).as_posix()
        try:
            # Stamped before reading: a file changed while being read gets a new stamp
            # the next time, so it is never reused with stale content.
            st = path.stat()
            stamps[rid] = (st.st_size, st.st_mtime_ns)
            # Only a regular file of allowed size may be reused; anything else is read,
            # and read_release says why it is skipped.
            if reuse is not None and stat.S_ISREG(st.st_mode) and st.st_size <= MAX_FILE_BYTES:
                release = reuse(rid, stamps[rid])
                if release:
                    got[k] = release
        except OSError:
            pass  # read_release reports it
    todo = [k for k in range(len(files)) if k not in got]
    got.update(zip(todo, read([files[k] for k in todo], root)))
    releases = []
    by_url: dict[str, str] = {}
    for k, path in enumerate(files):
        rid, release = path.relative_to(root).as_posix(), got[k]
        if isinstance(release, ReleaseError):
            reason = str(release).split(": ", 1)[-1]
            skipped.append(Skipped(rid, reason))
            log.warning("skipped %s", release)
            continue
        if release.url and release.url in by_url:
            # The same page saved twice: citing either would be the same, so keep one.
            skipped.append(Skipped(release.id, f"same url as {by_url[release.url]}"))
            log.warning("skipped %s: same url as %s", release.id, by_url[release.url])
            continue
        by_url[release.url] = release.id
        releases.append(release)
    return LoadResult(releases, skipped, stamps)
