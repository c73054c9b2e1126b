"""How far the embedding of a lexical generation is: ``index/embed-status.json``.

The build that embeds writes it as it goes (``rag.index.staged``); ``rag search``,
``rag ask`` and the app read it to say which generation answers ("lexical only,
embedding 41%"). It is removed when the hybrid generation is published. Written
atomically (temporary file, then rename); a missing or damaged file reads as None.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from .files import write_json

STATUS = "embed-status.json"


@dataclass(frozen=True)
class EmbedStatus:
    """The embedding of generation ``generation``: ``done`` of ``total`` passage texts
    have vectors (those found in the cache count as done), by process ``pid``;
    ``stopped`` once it ended without finishing (an error, Ctrl-C; a killed process
    cannot say so, and is found out by its pid)."""

    generation: str
    done: int
    total: int
    started: str
    updated: str
    pid: int
    stopped: bool = False

    @property
    def percent(self) -> int:
        return 100 if self.total <= 0 else int(100 * self.done / self.total)

    @property
    def running(self) -> bool:
        """Whether the process embedding it still runs (it may have been killed)."""
        if self.stopped:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def start_status(index_dir: Path, generation: str, done: int, total: int) -> EmbedStatus:
    """Record that this process starts embedding ``generation``."""
    status = EmbedStatus(generation, done, total, _now(), _now(), os.getpid())
    write_status(index_dir, status)
    return status


def advance(index_dir: Path, status: EmbedStatus, done: int,
            stopped: bool = False) -> EmbedStatus:
    """Record ``done`` (and whether the embedding stopped unfinished)."""
    status = replace(status, done=done, updated=_now(), stopped=stopped)
    write_status(index_dir, status)
    return status


def write_status(index_dir: Path, status: EmbedStatus) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".status-", dir=index_dir)
    os.close(fd)
    try:
        write_json(Path(tmp), asdict(status), indent=1)
        os.replace(tmp, Path(index_dir) / STATUS)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_status(index_dir: Path) -> EmbedStatus | None:
    """The status file of an index folder, or None (none there, or unreadable)."""
    try:
        raw = json.loads((Path(index_dir) / STATUS).read_text(encoding="utf-8"))
        return EmbedStatus(str(raw["generation"]), int(raw["done"]), int(raw["total"]),
                           str(raw["started"]), str(raw["updated"]), int(raw["pid"]),
                           bool(raw.get("stopped", False)))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def clear_status(index_dir: Path) -> None:
    (Path(index_dir) / STATUS).unlink(missing_ok=True)


def generation_note(gen_dir: Path, lexical_only: bool) -> str:
    """Which generation answers, for a status line: empty for a hybrid one; for a
    lexical one, "lexical only (BM25)" and how far its embedding is, or that it stopped.

    Args:
        gen_dir: the generation folder being served (its parent holds the status file).
        lexical_only: whether that generation is lexical (``Manifest.lexical_only``).
    """
    if not lexical_only:
        return ""
    status = read_status(Path(gen_dir).parent)
    if status is None or status.generation != Path(gen_dir).name:
        return "lexical only (BM25): the embedding has not started; run `rag index` to embed"
    where = f"{status.done:,} of {status.total:,} passages"
    if status.running:
        return f"lexical only, embedding {status.percent}% ({where})"
    return (f"lexical only (BM25): the embedding stopped at {status.percent}% ({where}); "
            "run `rag index` to finish it (computed vectors are kept)")
