"""Exporting renamed, sorted copies of photos.

Guarantees: originals are only ever opened for reading; nothing in the target folder is ever
overwritten; every copy is written to a hidden temporary file and then linked to its final name
(which fails instead of replacing an existing file); a cancelled, failed or killed export leaves
no partial file (stale temporaries from a killed run are removed by the next export); a naming
pattern can never write outside the target folder, and a name it gives without a photo
extension keeps the original's; the target can never be inside a folder being sorted (the
copies would be sorted, and exported, again), however it is reached (symbolic links included).
"""

from __future__ import annotations

import csv
import errno
import io
import os
import shutil
import string
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from photosort.core.errors import Cancelled, ExportError, plain_reason
from photosort.core.files import (
    EXPORT_MANIFEST_HEADER,
    EXPORT_MANIFEST_NAME,
    PHOTO_EXTENSIONS,
    display_path,
)
from photosort.core.jobs import CancelToken, Progress, ProgressCallback, no_progress

DEFAULT_PATTERN = "{rank:04d}_{name}"
MANIFEST_NAME = EXPORT_MANIFEST_NAME
_TMP_PREFIX = ".photosort-partial-"
_CHUNK = 1 << 20
PATTERN_FIELDS = ("rank", "name", "stem", "ext", "distance", "folder")


@dataclass(frozen=True, slots=True)
class ExportItem:
    source: str
    distance: float | None = None


@dataclass(frozen=True, slots=True)
class PlannedCopy:
    rank: int
    source: str
    name: str
    distance: float | None


@dataclass(slots=True)
class ExportReport:
    copied: list[PlannedCopy] = field(default_factory=list)
    manifest: str | None = None
    cancelled: bool = False


def _fields(rank: int, item: ExportItem) -> dict[str, object]:
    name = os.path.basename(item.source)
    stem, ext = os.path.splitext(name)
    return {
        "rank": rank,
        "name": name,
        "stem": stem,
        "ext": ext,
        "distance": item.distance if item.distance is not None else float("nan"),
        "folder": os.path.basename(os.path.dirname(item.source)),
    }


def validate_pattern(pattern: str) -> None:
    """Refuse patterns that name unknown fields or could leave the target folder."""
    if not pattern.strip():
        raise ExportError("the name pattern is empty")
    if os.path.isabs(pattern) or pattern.startswith(("/", "\\")):
        raise ExportError("the name pattern must be a file name, not an absolute path")
    try:
        parsed = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        raise ExportError(f"the name pattern is malformed: {exc}") from None
    for literal, field_name, _spec, _conv in parsed:
        if any(sep in literal for sep in ("/", "\\")) or ".." in literal.split(os.sep):
            raise ExportError("the name pattern may not contain folders or '..'")
        if field_name is not None and field_name not in PATTERN_FIELDS:
            raise ExportError(
                f"unknown field {{{field_name}}} in the name pattern "
                f"(known: {', '.join('{' + f + '}' for f in PATTERN_FIELDS)})"
            )
    render_name(pattern, 1, ExportItem("/x/example.jpg", 0.0))


def render_name(pattern: str, rank: int, item: ExportItem) -> str:
    try:
        name = pattern.format(**_fields(rank, item))
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ExportError(f"the name pattern cannot be applied: {exc}") from None
    bad = (
        not name
        or name in (".", "..")
        or "/" in name
        or "\\" in name
        or (os.altsep and os.altsep in name)
        or "\x00" in name
    )
    if bad:
        raise ExportError(f"the name pattern gives an unsafe file name: {name!r}")
    if os.path.splitext(name)[1].lower() not in PHOTO_EXTENSIONS:
        # `{rank:04d}` alone would write files no viewer opens: keep the original's extension.
        name += os.path.splitext(item.source)[1]
    return name


def _real(path: str) -> str:
    return os.path.normcase(os.path.realpath(os.path.abspath(os.path.expanduser(path))))


def _is_within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_target_outside(target: str, folders: Sequence[str]) -> None:
    """Refuse a target inside (or equal to) a folder being sorted: the copies would join it.

    Both sides are resolved through symbolic links, so a link into the folder is refused too.
    """
    real_target = _real(target)
    for folder in folders:
        real_folder = _real(folder)
        if _is_within(real_target, real_folder):
            where = "is" if real_target == real_folder else "is inside"
            raise ExportError(
                f"cannot export to {display_path(target)}: it {where} the folder being sorted "
                f"({display_path(folder)}), so the copies would be sorted again; "
                "choose a folder outside it"
            )


def target_problem(target: str, folders: Sequence[str]) -> str | None:
    """Why `target` cannot take the copies, judged from the path alone (no disk access), or
    None. For the export dialog's live check; `check_target_outside` also follows links."""
    if not target.strip():
        return None
    path = os.path.normcase(os.path.abspath(os.path.expanduser(target)))
    for folder in folders:
        if _is_within(path, os.path.normcase(os.path.abspath(folder))):
            return (
                "This folder is inside the folder being sorted: the copies would be sorted "
                "again. Choose a folder outside it."
            )
    return None


def plan_export(
    items: Sequence[ExportItem], target: str, pattern: str = DEFAULT_PATTERN
) -> list[PlannedCopy]:
    """Names for every copy, unique among themselves and with what the target already holds."""
    validate_pattern(pattern)
    existing = set(os.listdir(target)) if os.path.isdir(target) else set()
    taken = {n.casefold() for n in existing}  # case-insensitive disks (macOS, Windows)
    plan = []
    for rank, item in enumerate(items, start=1):
        name = _unique(render_name(pattern, rank, item), taken)
        taken.add(name.casefold())
        plan.append(PlannedCopy(rank, item.source, name, item.distance))
    return plan


def _unique(name: str, taken: set[str]) -> str:
    if name.casefold() not in taken:
        return name
    stem, ext = os.path.splitext(name)
    n = 2
    while f"{stem} ({n}){ext}".casefold() in taken:
        n += 1
    return f"{stem} ({n}){ext}"


def check_target(target: str, temps: _Temporaries) -> None:
    """Create the target folder if needed and prove it is writable, before copying anything."""
    if os.path.lexists(target) and not os.path.isdir(target):
        raise ExportError(
            f"{display_path(target)} is a file, not a folder: choose a folder for the copies"
        )
    try:
        os.makedirs(target, exist_ok=True)
    except FileExistsError:
        raise ExportError(
            f"cannot create {display_path(target)}: a file is in the way in its path"
        ) from None
    except OSError as exc:
        raise ExportError(f"cannot create {display_path(target)}: {plain_reason(exc)}") from None
    if not os.path.isdir(target):
        raise ExportError(f"not a folder: {display_path(target)}")
    probe = temps.new()
    try:
        with open(probe, "xb"):
            pass
    except OSError as exc:
        raise ExportError(f"cannot write to {display_path(target)}: {plain_reason(exc)}") from None
    finally:
        temps.discard(probe)


def remove_stale_partials(target: str) -> int:
    """Delete temporaries a killed export left behind; they are never user files."""
    removed = 0
    try:
        names = os.listdir(target)
    except OSError:
        return 0
    for name in names:
        if name.startswith(_TMP_PREFIX):
            try:
                os.remove(os.path.join(target, name))
                removed += 1
            except OSError:
                pass
    return removed


def run_export(
    plan: Sequence[PlannedCopy],
    target: str,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    write_manifest: bool = True,
) -> ExportReport:
    """Copy each planned photo; raise ExportError (after cleaning up) if the disk fails."""
    target = os.path.abspath(target)
    report = ExportReport()
    temps = _Temporaries(target)
    try:
        check_target(target, temps)
        remove_stale_partials(target)
        try:
            for i, item in enumerate(plan):
                if cancel is not None and cancel.cancelled:
                    raise Cancelled()
                progress(Progress(i, len(plan), item.source))
                final = _copy_new(item.source, target, item.name, cancel, temps)
                report.copied.append(
                    item
                    if final == item.name
                    else PlannedCopy(item.rank, item.source, final, item.distance)
                )
            progress(Progress(len(plan), len(plan), ""))
        except Cancelled:
            report.cancelled = True
        finally:
            if write_manifest and report.copied:
                report.manifest = _write_manifest(report.copied, target, temps)
    finally:
        # Each temporary is removed where it was made, but a Ctrl-C (KeyboardInterrupt) can
        # land inside that cleanup and skip it: this second net removes what is left.
        temps.sweep()
    return report


class _Temporaries:
    """The temporary files one export run makes in its target folder."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.live: set[str] = set()

    def new(self) -> str:
        path = os.path.join(self.target, f"{_TMP_PREFIX}{uuid.uuid4().hex}")
        self.live.add(path)
        return path

    def discard(self, path: str) -> None:
        """Remove one; it is forgotten only once it is gone, so `sweep` retries a failure.
        Never raises: a failed cleanup must not replace the error that caused it."""
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        except OSError:
            return  # sweep() retries; failing that, the next export's remove_stale_partials
        self.live.discard(path)

    def sweep(self) -> None:
        for path in list(self.live):
            self.discard(path)


def _copy_new(
    source: str, target: str, name: str, cancel: CancelToken | None, temps: _Temporaries
) -> str:
    tmp = temps.new()
    try:
        with open(source, "rb") as src, open(tmp, "xb") as dst:
            while chunk := src.read(_CHUNK):
                if cancel is not None and cancel.cancelled:
                    raise Cancelled()
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())
        shutil.copystat(source, tmp)
        return _publish(tmp, target, name)
    except FileNotFoundError:
        raise ExportError(f"the photo disappeared: {display_path(source)}") from None
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise ExportError(f"the disk is full: {display_path(target)}") from None
        raise ExportError(f"cannot copy {display_path(source)}: {plain_reason(exc)}") from None
    finally:
        temps.discard(tmp)  # after _publish, the final name is a second link to the same file


def _publish(tmp: str, target: str, name: str) -> str:
    """Give the finished temporary its final name without ever replacing an existing file."""
    stem, ext = os.path.splitext(name)
    candidate, n = name, 1
    while True:
        final = os.path.join(target, candidate)
        try:
            os.link(tmp, final)  # atomic, and fails if `final` exists
            return candidate
        except FileExistsError:
            n += 1
            candidate = f"{stem} ({n}){ext}"
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            # No hard links (FAT, exFAT, some network shares): check, then rename.
            if os.path.lexists(final):
                n += 1
                candidate = f"{stem} ({n}){ext}"
                continue
            os.rename(tmp, final)
            return candidate


def _write_manifest(copied: Sequence[PlannedCopy], target: str, temps: _Temporaries) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(EXPORT_MANIFEST_HEADER.split(","))
    for item in copied:
        dist = "" if item.distance is None else f"{item.distance:.6f}"
        writer.writerow([item.rank, display_path(item.source), display_path(item.name), dist])
    tmp = temps.new()
    try:
        with open(tmp, "x", encoding="utf-8", newline="") as fh:
            fh.write(buf.getvalue())
        return os.path.join(target, _publish(tmp, target, MANIFEST_NAME))
    except OSError as exc:
        raise ExportError(f"cannot write the export manifest: {plain_reason(exc)}") from None
    finally:
        temps.discard(tmp)
