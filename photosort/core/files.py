"""Finding photos in a folder tree.

The walk is iterative (deep trees cannot hit the recursion limit), follows symlinks to folders
but never enters the same folder twice (loops are harmless), skips hidden entries, and reports
folders it cannot read instead of failing. A folder below the scanned one that holds a
`photosort-export.csv` written by PhotoSort is a folder of exported copies: it is left out, so
an export never ends up sorted (and exported) again with the originals.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field

from photosort.core.exclude import Exclusions

PHOTO_EXTENSIONS = frozenset(
    {
        ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".gif", ".bmp", ".dib",
        ".tif", ".tiff", ".heic", ".heif", ".hif", ".avif",
    }
)  # fmt: skip
JPEG_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".jfif"})
#: The list of copies an export writes next to them (core/export.py writes it).
EXPORT_MANIFEST_NAME = "photosort-export.csv"
#: Its first line: how a manifest written by PhotoSort is told from a user's own CSV file.
EXPORT_MANIFEST_HEADER = "rank,original_path,new_name,distance"


@dataclass(frozen=True, slots=True)
class FileEntry:
    """A photo file as seen by the scan: enough to tell whether it changed since last time."""

    path: str
    size: int
    mtime_ns: int


@dataclass(slots=True)
class ScanResult:
    files: list[FileEntry] = field(default_factory=list)
    #: (path, reason) for folders or entries that could not be read.
    problems: list[tuple[str, str]] = field(default_factory=list)
    #: Folders of PhotoSort's exported copies found below the scanned folder, left out.
    export_folders: list[str] = field(default_factory=list)


def is_photo_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in PHOTO_EXTENSIONS


def _is_hidden(name: str) -> bool:
    # Dot-files, plus the droppings of macOS, Windows and Synology that look like photos.
    return name.startswith(".") or name in {"@eaDir", "$RECYCLE.BIN", "System Volume Information"}


def scan_folder(folder: str | os.PathLike[str], exclude: Exclusions | None = None) -> ScanResult:
    """All photos under `folder`, sorted by path; unreadable places go to `problems`.

    `exclude`: folders and name patterns to leave out; by default the user's
    (`PHOTOSORT_EXCLUDE`, set from Preferences)."""
    root = os.path.abspath(os.fspath(folder))
    result = ScanResult()
    rules = exclude if exclude is not None else Exclusions.from_environment()
    files = _walk(root, result.problems, result.export_folders, rules)
    result.files = sorted(files, key=lambda e: e.path)
    return result


def is_export_manifest(path: str) -> bool:
    """True if `path` is an export manifest PhotoSort wrote (its exact header line)."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            first = fh.readline(len(EXPORT_MANIFEST_HEADER) + 2)
    except (OSError, UnicodeDecodeError):
        return False
    return first.rstrip("\r\n") == EXPORT_MANIFEST_HEADER


def _holds_export(directory: str, entries: list[os.DirEntry[str]]) -> bool:
    # An export into a folder that already had a manifest names the next `photosort-export (2).csv`.
    stem, ext = os.path.splitext(EXPORT_MANIFEST_NAME)
    return any(
        e.name.startswith(stem)
        and e.name.endswith(ext)
        and is_export_manifest(os.path.join(directory, e.name))
        for e in entries
    )


def _walk(
    root: str,
    problems: list[tuple[str, str]],
    export_folders: list[str],
    exclude: Exclusions,
) -> Iterator[FileEntry]:
    seen_dirs: set[tuple[int, int]] = set()
    pending = [root]
    while pending:
        directory = pending.pop()
        try:
            st = os.stat(directory)
        except OSError as exc:
            problems.append((directory, _reason(exc)))
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:
            continue  # a symlink loop or a second link to a folder already walked
        seen_dirs.add(key)
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError as exc:
            problems.append((directory, _reason(exc)))
            continue
        # The folder the user chose is always shown, even one of exported copies; only
        # export folders below it are left out (they would repeat the originals).
        if directory != root and _holds_export(directory, entries):
            export_folders.append(directory)
            continue
        for entry in entries:
            name = entry.name
            if _is_hidden(name) or (exclude and exclude.excludes(entry.path, name)):
                continue
            try:
                if entry.is_dir(follow_symlinks=True):
                    pending.append(entry.path)
                    continue
                if not is_photo_name(name):
                    continue
                if not entry.is_file(follow_symlinks=True):
                    if entry.is_symlink() and not os.path.exists(entry.path):
                        problems.append((entry.path, "broken link"))
                    continue
                est = entry.stat(follow_symlinks=True)
            except OSError as exc:
                if entry.is_symlink():
                    problems.append((entry.path, "broken link"))
                else:
                    problems.append((entry.path, _reason(exc)))
                continue
            if not stat.S_ISREG(est.st_mode):
                continue
            yield FileEntry(entry.path, est.st_size, est.st_mtime_ns)


def _reason(exc: OSError) -> str:
    return exc.strerror or exc.__class__.__name__


def display_path(path: str) -> str:
    """A printable form of a path whose name may not be valid UTF-8."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def path_to_key(path: str) -> bytes:
    """The bytes the OS uses for `path`: a lossless store key, even for non-UTF-8 names."""
    return os.fsencode(path)


def key_to_path(key: bytes) -> str:
    return os.fsdecode(key)


def folder_prefix_key(folder: str | os.PathLike[str]) -> bytes:
    """Key prefix matching every file below `folder` (and not a sibling like `folder2`)."""
    root = os.fsencode(os.path.abspath(os.fspath(folder)))
    return root if root.endswith(os.fsencode(os.sep)) else root + os.fsencode(os.sep)


__all__ = [
    "EXPORT_MANIFEST_HEADER",
    "EXPORT_MANIFEST_NAME",
    "FileEntry",
    "JPEG_EXTENSIONS",
    "PHOTO_EXTENSIONS",
    "ScanResult",
    "display_path",
    "folder_prefix_key",
    "is_export_manifest",
    "is_photo_name",
    "key_to_path",
    "path_to_key",
    "scan_folder",
]
