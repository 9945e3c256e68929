"""Moving duplicates to the desktop's trash, safely.

Nothing is deleted: every file goes to the platform's trash (the freedesktop.org trash on Linux,
the Recycle Bin, the macOS Trash) through send2trash, where the user can restore it. Before each
move the file is checked again, and skipped with a reason when moving it could lose something:

  - it is a group's keeper, or its group's keeper is gone or changed (then the group's copies
    may be the only ones left);
  - it is not inside the folder being cleaned up;
  - it changed on disk since it was indexed (size or modification time differ), or vanished.

Each file is moved on its own, so a failure part-way (a full disk, a permission) leaves every
photo either in place or in the trash, and the outcome says which. The store forgets each photo
right after it reaches the trash.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from photosort.core.duplicates import Group, Photo
from photosort.core.files import display_path
from photosort.core.jobs import CancelToken, Progress, ProgressCallback, no_progress
from photosort.core.store import Store


@dataclass(slots=True)
class TrashOutcome:
    moved: list[str] = field(default_factory=list)
    moved_bytes: int = 0
    #: (path, reason): left in place on purpose
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: (path, reason): the move was tried and failed; the file is still in place
    failed: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{len(self.moved)} photos moved to the trash ({format_bytes(self.moved_bytes)})"
        if self.skipped:
            text += f", {len(self.skipped)} left in place"
        if self.failed:
            text += f", {len(self.failed)} could not be moved (still in place)"
        return text


def format_bytes(n: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def _default_send(path: str) -> None:
    from send2trash import send2trash

    send2trash(path)


def _inside(path: str, folder: str) -> bool:
    real, root = os.path.realpath(path), os.path.realpath(folder)
    try:
        return os.path.commonpath([real, root]) == root and real != root
    except ValueError:  # another drive (Windows)
        return False


def _unchanged(photo: Photo) -> str | None:
    """None when the file is as it was indexed; otherwise why not."""
    try:
        st = os.stat(photo.path)
    except FileNotFoundError:
        return "it is no longer there"
    except OSError as exc:
        return f"it cannot be checked ({exc.strerror or exc})"
    if (st.st_size, st.st_mtime_ns) != (photo.size, photo.mtime_ns):
        return "it changed since it was indexed (index the folder again)"
    return None


def trash_duplicates(
    store: Store,
    folder: str | os.PathLike[str],
    groups: Sequence[Group],
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    send: Callable[[str], None] = _default_send,
) -> TrashOutcome:
    """Move every photo but the keeper of each group to the trash (see the module's rules).

    `send` moves one file to the trash (send2trash by default; tests pass a failing one).
    A cancel stops between two files.
    """
    folder = os.path.abspath(os.fspath(folder))
    out = TrashOutcome()
    keepers = {os.path.realpath(g.keeper.path) for g in groups}
    total = sum(len(g.others) for g in groups)
    done = 0
    for group in groups:
        problem = _unchanged(group.keeper)
        for photo in group.others:
            if cancel is not None and cancel.cancelled:
                out.skipped.append((photo.path, "cancelled"))
                continue
            done += 1
            progress(Progress(done, total, photo.path))
            reason = None
            if os.path.realpath(photo.path) in keepers:
                reason = "it is the photo to keep in another group"
            elif problem is not None:
                reason = f"the photo to keep, {display_path(group.keeper.path)}: {problem}"
            elif not _inside(photo.path, folder):
                reason = f"it is not inside {display_path(folder)}"
            else:
                reason = _unchanged(photo)
            if reason is not None:
                out.skipped.append((photo.path, reason))
                continue
            try:
                send(photo.path)
            except Exception as exc:  # send2trash raises OSError subclasses, and others
                out.failed.append((photo.path, f"{exc.__class__.__name__}: {exc}"))
                continue
            if os.path.lexists(photo.path):
                out.failed.append((photo.path, "the trash did not take it (still in place)"))
                continue
            out.moved.append(photo.path)
            out.moved_bytes += photo.size
            store.remove_paths([photo.path])
    return out
