"""The indexing pipeline: scan, diff with the store, decode, encode, write.

Decoding runs in a thread pool (Pillow and libjpeg release the GIL) one batch ahead of the
encoder, so the model never waits for pixels it could have had. Each batch is written in its own
short transaction: a run that is killed loses at most the batch in flight, and the next run
starts from what is stored, with nothing decoded twice or written twice.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from photosort.core.decode import DecodedPhoto, content_hash, decode_bytes_for_index, read_file
from photosort.core.encoders import Encoder
from photosort.core.errors import Cancelled, DecodeError
from photosort.core.files import FileEntry, display_path, scan_folder
from photosort.core.jobs import CancelToken, Progress, ProgressCallback, no_progress
from photosort.core.store import PhotoRow, Store

DEFAULT_BATCH = 32
#: Failures that say nothing about the file's content (read_file's reasons): retried every run,
#: since fixing permissions or reconnecting a disk changes neither size nor mtime.
_RETRY_REASONS = ("permission denied", "file disappeared", "cannot read", "is a folder")


@dataclass(slots=True)
class IndexReport:
    """What one run did; `skipped` holds (path, reason) for every file left out."""

    total: int = 0
    indexed: int = 0
    unchanged: int = 0
    reused: int = 0  # moved, renamed or copied files that kept a known latent
    removed: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    cancelled: bool = False
    decoded: int = 0  # files whose pixels were decoded (a rescan of an unchanged folder: 0)
    kept_empty: int = 0  # photos kept although their folder looked empty (unplugged disk?)

    def summary(self) -> str:
        parts = [
            f"{self.indexed} indexed",
            f"{self.unchanged} unchanged",
            f"{self.reused} recognised after a move or copy",
            f"{self.removed} removed",
            f"{len(self.skipped)} skipped",
        ]
        text = ", ".join(parts)
        if self.kept_empty:
            text += (
                f"; the folder looks empty, so its {self.kept_empty} known photos were kept "
                "(is a disk unplugged?)"
            )
        return text + (" (cancelled)" if self.cancelled else "")


@dataclass(slots=True)
class _Work:
    entry: FileEntry
    decoded: DecodedPhoto | None = None
    reuse_from: int | None = None  # photo id whose latents this file can take
    digest: bytes | None = None
    error: str | None = None


class Indexer:
    """Keeps the store's latents for one model in step with folders on disk."""

    def __init__(
        self,
        store: Store,
        encoder: Encoder,
        batch_size: int = DEFAULT_BATCH,
        decode_workers: int | None = None,
    ) -> None:
        self.store = store
        self.encoder = encoder
        self.batch_size = max(1, batch_size)
        self.decode_workers = decode_workers or max(1, min(8, os.cpu_count() or 1))
        self.model_id = encoder.info.id

    def index_folder(
        self,
        folder: str | os.PathLike[str],
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
        first: Iterable[str] = (),
    ) -> IndexReport:
        """Bring the store up to date for every photo under `folder`.

        `first` lists paths to encode before the rest (the app's reference photo, say).
        """
        folder = os.path.abspath(os.fspath(folder))
        if not os.path.isdir(folder):
            raise DecodeError(f"not a folder: {display_path(folder)}")
        scan = scan_folder(folder)
        # A model replaced by a new version under the same id: its old latents must go.
        self.store.use_model_version(self.model_id, self.encoder.info.version)
        report = IndexReport(total=len(scan.files))
        report.skipped.extend(scan.problems)
        known = self.store.photos_under(folder, self.model_id)
        failures = self.store.failures_under(folder)

        todo: list[FileEntry] = []
        for entry in scan.files:
            row = known.get(entry.path)
            if row and row.size == entry.size and row.mtime_ns == entry.mtime_ns and row.has_latent:
                report.unchanged += 1
                continue
            failed = failures.get(entry.path)
            if (
                failed
                and failed.size == entry.size
                and failed.mtime_ns == entry.mtime_ns
                and not failed.reason.startswith(_RETRY_REASONS)
            ):
                report.skipped.append((entry.path, failed.reason))
                continue
            todo.append(entry)
        priority = set(first)
        if priority:
            todo.sort(key=lambda e: e.path not in priority)

        present = {e.path for e in scan.files}
        vanished = {path: row for path, row in known.items() if path not in present}
        done = report.unchanged + len(report.skipped) - len(scan.problems)
        progress(Progress(done, report.total, ""))
        try:
            self._process(todo, vanished, report, progress, cancel, done)
        except Cancelled:
            report.cancelled = True
            return report
        # Only a complete run may forget files: a cancelled one could not tell moves apart.
        if not scan.files and vanished:
            # A folder that used to hold photos and now looks empty is far more often an
            # unplugged disk or an unmounted share than a deliberate deletion of everything.
            report.kept_empty = len(vanished)
            return report
        report.removed = self.store.remove_paths(vanished)
        stale = [p for p in failures if p not in present]
        self.store.remove_paths(stale)
        if report.indexed or report.reused:
            # New photos are compared with the folder's now, while its facts are at hand, so
            # that grouping duplicates later is a read (core/duplicates.py link_duplicates).
            from photosort.core.duplicates import link_duplicates

            try:
                link_duplicates(self.store, folder, self.encoder.info, cancel=cancel)
            except Cancelled:
                report.cancelled = True
        return report

    def index_paths(self, paths: Iterable[str]) -> IndexReport:
        """Index individual files (e.g. a reference photo outside the folder)."""
        entries = []
        report = IndexReport()
        for path in paths:
            path = os.path.abspath(path)
            try:
                st = os.stat(path)
            except OSError as exc:
                report.skipped.append((path, exc.strerror or "cannot read"))
                continue
            entries.append(FileEntry(path, st.st_size, st.st_mtime_ns))
        report.total = len(entries)
        todo = []
        for e in entries:
            row = self.store.photo_row(e.path, self.model_id)
            if row and row.size == e.size and row.mtime_ns == e.mtime_ns and row.has_latent:
                report.unchanged += 1
            else:
                todo.append(e)
        self._process(todo, {}, report, no_progress, None, 0)
        return report

    # -- pipeline -----------------------------------------------------------------------------

    def _process(
        self,
        todo: list[FileEntry],
        vanished: dict[str, PhotoRow],
        report: IndexReport,
        progress: ProgressCallback,
        cancel: CancelToken | None,
        done: int,
    ) -> None:
        if not todo:
            return
        sources = self.store.latent_sources(self.model_id)
        # A vanished photo with the same content is the likeliest origin of a new file: a move.
        moved_from = {row.hash: row.id for row in vanished.values() if row.hash and row.has_latent}
        batches = [todo[i : i + self.batch_size] for i in range(0, len(todo), self.batch_size)]
        size = self.encoder.info.input_size
        resize = self.encoder.info.resize

        def prepare(entry: FileEntry) -> _Work:
            work = _Work(entry)
            try:
                data = read_file(entry.path)
                work.digest = content_hash(data)
                work.reuse_from = moved_from.get(work.digest) or sources.get(work.digest)
                if work.reuse_from is None:
                    work.decoded = decode_bytes_for_index(data, size, resize, work.digest)
            except DecodeError as exc:
                work.error = str(exc)
            except Exception as exc:  # a decoder bug must cost one file, not the run
                work.error = f"unexpected error: {exc.__class__.__name__}: {exc}"
            return work

        with ThreadPoolExecutor(self.decode_workers, thread_name_prefix="decode") as pool:
            pending: list[Future[_Work]] = [pool.submit(prepare, e) for e in batches[0]]
            for i in range(len(batches)):
                # Queue the next batch before waiting: the pool decodes it while we encode.
                upcoming = (
                    [pool.submit(prepare, e) for e in batches[i + 1]]
                    if i + 1 < len(batches)
                    else []
                )
                try:
                    results = [f.result() for f in pending]
                    if cancel is not None:
                        cancel.raise_if_cancelled()
                    self._write_batch(results, vanished, sources, report)
                except BaseException:
                    for f in upcoming:
                        f.cancel()
                    raise
                done += len(results)
                progress(Progress(done, report.total or done, results[-1].entry.path))
                pending = upcoming

    def _write_batch(
        self,
        results: list[_Work],
        vanished: dict[str, PhotoRow],
        sources: dict[bytes, int],
        report: IndexReport,
    ) -> None:
        decoded = [w for w in results if w.decoded is not None]
        images = [w.decoded.pixels for w in decoded if w.decoded is not None]
        vectors = self.encoder.encode_images(images) if images else None
        moved_ids = {row.id: path for path, row in vanished.items()}
        with self.store.transaction() as conn:
            for w in results:
                e = w.entry
                if w.error is not None:
                    Store.record_failure(conn, e.path, e.size, e.mtime_ns, w.error)
                    report.skipped.append((e.path, w.error))
                elif w.reuse_from is not None:
                    source = w.reuse_from
                    if source in moved_ids:
                        # The file moved: its row (and latents of every model) follows it.
                        Store.move_photo(conn, source, e.path, e.size, e.mtime_ns)
                        vanished.pop(moved_ids.pop(source), None)
                    else:
                        target = self.store.upsert_photo(conn, e.path, e.size, e.mtime_ns, w.digest)
                        Store.copy_latents(conn, source, target)
                    report.reused += 1
            if vectors is not None:
                for w, vector in zip(decoded, vectors, strict=True):
                    d = w.decoded
                    assert d is not None
                    e = w.entry
                    pid = self.store.upsert_photo(
                        conn, e.path, e.size, e.mtime_ns, d.content_hash, d.width, d.height, d.taken
                    )
                    Store.put_latent(conn, pid, self.model_id, vector)
                    if d.signature is not None:
                        Store.put_signature(conn, pid, d.signature)
                    sources.setdefault(d.content_hash, pid)
                    report.indexed += 1
                    report.decoded += 1
