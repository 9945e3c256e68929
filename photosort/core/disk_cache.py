"""Keeping a cache folder (the thumbnails) within a size: measure, trim oldest first, clear.

Only files are touched, and only below the given folder; a file another thread is writing
(a `*.tmp`) is left alone. Errors on single files are skipped: a cache is never worth failing
for.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

MB = 1024 * 1024


def _files(folder: Path) -> list[tuple[float, int, str]]:
    """(last use, size, path) of every cache file below `folder`."""
    out: list[tuple[float, int, str]] = []
    for directory, _dirs, names in os.walk(folder):
        for name in names:
            if name.endswith(".tmp"):
                continue
            path = os.path.join(directory, name)
            with contextlib.suppress(OSError):
                st = os.stat(path)
                # atime is often not updated (noatime, relatime): the newer of the two.
                out.append((max(st.st_atime, st.st_mtime), st.st_size, path))
    return out


def folder_size(folder: str | os.PathLike[str]) -> int:
    """Bytes held by the files below `folder` (0 when it does not exist)."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    return sum(size for _, size, _ in _files(folder))


def trim(folder: str | os.PathLike[str], max_bytes: int) -> int:
    """Delete the least recently used files until at most `max_bytes` remain; bytes freed."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    files = _files(folder)
    total = sum(size for _, size, _ in files)
    freed = 0
    for _, size, path in sorted(files):
        if total - freed <= max_bytes:
            break
        with contextlib.suppress(OSError):
            os.remove(path)
            freed += size
    return freed


def clear(folder: str | os.PathLike[str]) -> int:
    """Delete every cache file below `folder`; bytes freed."""
    return trim(folder, 0)
