"""Reading and writing the index's files: synced writes, and reads that name the damaged
file and the fix."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, BinaryIO, Callable

import numpy as np

from ..errors import IndexCorruptError

FIX = "run `rag index --full` to rebuild it"


def write_file(path: Path, write: Callable[[BinaryIO], Any]) -> None:
    """Create ``path``, let ``write`` fill it, and sync it to disk before returning."""
    with open(path, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())


def write_json(path: Path, value: Any, indent: int | None = None) -> None:
    """``value`` as UTF-8 JSON in ``path``, synced."""
    data = json.dumps(value, indent=indent, ensure_ascii=False).encode("utf-8")
    write_file(path, lambda f: f.write(data))


def fsync_dir(path: Path) -> None:
    """Sync a folder's entries (a rename inside it) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_json(path: Path) -> Any:
    """Parsed JSON of an index file.

    Raises:
        IndexCorruptError: missing, unreadable or not JSON (naming the file and the fix).
    """
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"{path} cannot be read ({exc}); {FIX}") from None


def read_array(path: Path, mmap: bool = True) -> np.ndarray:
    """A saved NumPy array, memory-mapped unless ``mmap`` is false.

    Raises:
        IndexCorruptError: missing or not a NumPy array file.
    """
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"{path} cannot be read ({exc}); {FIX}") from None
