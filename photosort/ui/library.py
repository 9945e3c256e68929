"""The open folder and its index: scanning, background indexing, refreshing, switching models.

`Library` owns no widgets. It runs every job through `workers.run_task` (each job opens its own
`Store`: SQLite connections are per thread) and reports through signals; results of a job that
belongs to a folder or model no longer shown are dropped by a generation check.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal

from photosort.core.encoders import Registry
from photosort.core.expansion import QueryExpansion
from photosort.core.indexer import Indexer, IndexReport
from photosort.core.jobs import CancelToken, Progress
from photosort.core.store import Store
from photosort.ui import snapshot as snapshots
from photosort.ui.index_process import index_in_process, use_process
from photosort.ui.snapshot import FolderSnapshot
from photosort.ui.workers import Pools, TaskHandle, run_task

log = logging.getLogger("photosort.ui.library")

#: While indexing, the grid learns about new latents this often (ms).
REFRESH_INTERVAL = 1500
#: The indexer's progress callback reaches the GUI at most this often (s).
PROGRESS_INTERVAL = 0.25


@dataclass(frozen=True)
class IndexProgress:
    done: int
    total: int
    seconds_left: float | None


class Library(QObject):
    folderOpened = Signal(object)  # FolderSnapshot: a new folder (reset the grid)
    snapshotUpdated = Signal(object)  # FolderSnapshot: same files, newer store contents
    indexStarted = Signal()
    indexProgress = Signal(object)  # IndexProgress
    indexFinished = Signal(object)  # IndexReport (also when cancelled)
    referencesIndexed = Signal(list)  # paths indexed on demand
    error = Signal(str)
    busy = Signal(str)  # a short status message ("Reading the folder…")

    def __init__(
        self, registry: Registry, db_path: str | os.PathLike[str], pools: Pools, parent=None
    ) -> None:
        super().__init__(parent)
        self.registry = registry
        self.db_path = str(db_path)
        self.pools = pools
        self.snapshot: FolderSnapshot | None = None
        self.folder: str | None = None
        self.model_id: str = ""
        self.last_report: IndexReport | None = None
        self._generation = 0
        self._cancel: CancelToken | None = None
        self._index_handle: TaskHandle | None = None
        self._refresh_handle: TaskHandle | None = None
        self._started = 0.0
        self._first_done: int | None = None
        self._again = False  # the folder changed during a run: index once more after it
        self._refresh_timer = QTimer(self, interval=REFRESH_INTERVAL)
        self._refresh_timer.timeout.connect(self.refresh)

    # -- state --------------------------------------------------------------------------------

    @property
    def indexing(self) -> bool:
        return self._index_handle is not None and not self._index_handle.finished

    def metric(self, model_id: str | None = None) -> str:
        return self.registry.info(model_id or self.model_id).metric

    def expansion(self, model_id: str | None = None) -> QueryExpansion | None:
        try:
            return self.registry.info(model_id or self.model_id).query_expansion
        except Exception:  # an unknown model has no re-ranking (and cannot index anyway)
            return None

    # -- commands -----------------------------------------------------------------------------

    def open(self, folder: str, model_id: str) -> None:
        """Scan `folder`, show it, then index it in the background."""
        self._stop_jobs()
        self._generation += 1
        generation = self._generation
        self.folder = os.path.abspath(folder)
        self.model_id = model_id
        self.snapshot = None
        self.last_report = None
        self.busy.emit("Reading the folder…")
        try:
            metric = self.metric(model_id)
            can_index = True
        except Exception as exc:  # no or unknown model: still show the photos, say why
            self.error.emit(f"{exc}; the photos are shown but cannot be indexed")
            metric, can_index = "cosine", False
        db = self.db_path
        target = self.folder
        expansion = self.expansion(model_id)

        def load() -> FolderSnapshot:
            snap = snapshots.scan(target, model_id, metric, expansion)
            return snapshots.with_store(snap, db)

        def done(snap: FolderSnapshot) -> None:
            if generation != self._generation:
                return
            self.snapshot = snap
            self.folderOpened.emit(snap)
            if can_index:
                self.start_indexing()

        run_task(load, done, self._failed(generation), pool=self.pools.io)

    def set_model(self, model_id: str) -> None:
        """Show the folder through another encoder; encode with it in the background."""
        if model_id == self.model_id:
            return
        self._stop_jobs()
        self._generation += 1
        generation = self._generation
        self.model_id = model_id
        snap = self.snapshot
        if snap is None:
            return
        try:
            metric = self.metric(model_id)
        except Exception as exc:
            self.error.emit(str(exc))
            return
        db = self.db_path

        expansion = self.expansion(model_id)

        def load() -> FolderSnapshot:
            return snapshots.with_store(snap, db, model_id, metric, expansion=expansion)

        def done(new: FolderSnapshot) -> None:
            if generation != self._generation:
                return
            self.snapshot = new
            self.snapshotUpdated.emit(new)
            self.start_indexing()

        run_task(load, done, self._failed(generation), pool=self.pools.io)

    def start_indexing(self, first: list[str] | None = None) -> None:
        snap = self.snapshot
        if snap is None:
            return
        if self.indexing and self._cancel is not None:
            self._cancel.cancel()
            if self._index_handle is not None:
                self._index_handle.discard()
        generation = self._generation
        cancel = CancelToken()
        self._cancel = cancel
        registry, db, folder, model_id = self.registry, self.db_path, snap.folder, self.model_id
        priority = list(first or [])

        def job(report) -> tuple[IndexReport, FolderSnapshot]:
            last = [0.0]

            def progress(p: Progress) -> None:
                now = time.monotonic()
                if now - last[0] >= PROGRESS_INTERVAL or p.done >= p.total:
                    last[0] = now
                    report(p)

            if use_process():
                result = index_in_process(
                    db,
                    registry.dirs,
                    model_id,
                    registry.threads,
                    folder,
                    priority,
                    progress,
                    cancel,
                )
            else:
                store = Store(db)
                try:
                    encoder = registry.encoder(model_id)
                    result = Indexer(store, encoder).index_folder(
                        folder, progress, cancel, priority
                    )
                finally:
                    store.close()
            # Read the final state on this thread too: the grid gets it with the report. The
            # folder is scanned again: files added, removed or renamed since it was opened (or
            # since the last run) join the grid now, with the same counts as the report.
            fresh = snapshots.scan(folder, model_id, snap.metric, snap.expansion)
            return result, snapshots.with_store(fresh, db, extra_skipped=result.skipped)

        self._started = time.monotonic()
        self._first_done = None
        self.indexStarted.emit()
        self._index_handle = run_task(
            job,
            lambda result: self._index_done(generation, *result),
            self._index_failed(generation),
            pool=self.pools.index,
            on_progress=self._on_progress,
        )
        self._refresh_timer.start()

    def folder_changed(self) -> None:
        """Files changed on disk (the folder watcher): index and show them, once the run in
        progress (which may have scanned before the change) has finished."""
        if self.snapshot is None:
            return
        if self.indexing:
            self._again = True
        else:
            self.start_indexing()

    def cancel_indexing(self) -> None:
        if self._cancel is not None:
            self._cancel.cancel()

    def index_first(self, paths: list[str]) -> None:
        """Encode these photos now (a reference picked before indexing reached it)."""
        if not paths or self.snapshot is None:
            return
        registry, db, model_id = self.registry, self.db_path, self.model_id
        generation = self._generation
        self.busy.emit("Indexing the reference photo first…")

        def job() -> IndexReport:
            store = Store(db)
            try:
                return Indexer(store, registry.encoder(model_id)).index_paths(paths)
            finally:
                store.close()

        def done(report: IndexReport) -> None:
            if generation != self._generation:
                return
            if report.skipped and len(report.skipped) == len(paths):
                self.error.emit(f"cannot index the reference photo: {report.skipped[0][1]}")
                return
            self.refresh(then=lambda: self.referencesIndexed.emit(paths))

        run_task(job, done, self._failed(generation), pool=self.pools.io)

    def refresh(self, then=None) -> None:
        """Re-read the store (latents written since) without rescanning the folder."""
        snap = self.snapshot
        if snap is None:
            return
        if self._refresh_handle is not None and not self._refresh_handle.finished and then is None:
            return
        generation = self._generation
        db = self.db_path

        def done(new: FolderSnapshot) -> None:
            if generation != self._generation:
                return
            self.snapshot = new
            self.snapshotUpdated.emit(new)
            if then is not None:
                then()

        self._refresh_handle = run_task(
            lambda: snapshots.with_store(snap, db),
            done,
            self._failed(generation),
            pool=self.pools.io,
        )

    def close(self) -> None:
        self._stop_jobs()
        self._generation += 1

    # -- internals ----------------------------------------------------------------------------

    def _stop_jobs(self) -> None:
        self._again = False
        self._refresh_timer.stop()
        if self._cancel is not None:
            self._cancel.cancel()
        for handle in (self._index_handle, self._refresh_handle):
            if handle is not None:
                handle.discard()
        self._index_handle = None
        self._refresh_handle = None

    def _on_progress(self, p: Progress) -> None:
        now = time.monotonic()
        if self._first_done is None:
            self._first_done = p.done
            self._started = now
        left = None
        work = p.done - self._first_done
        elapsed = now - self._started
        if work > 0 and elapsed > 0.5:
            left = (p.total - p.done) * elapsed / work
        self.indexProgress.emit(IndexProgress(p.done, p.total, left))

    def _index_done(self, generation: int, report: IndexReport, snap: FolderSnapshot) -> None:
        if generation != self._generation:
            return
        self._refresh_timer.stop()
        self.last_report = report
        self.snapshot = snap
        self.snapshotUpdated.emit(snap)
        self.indexFinished.emit(report)
        again, self._again = self._again, False
        if again and not report.cancelled:  # a cancel by the user also drops the queued run
            self.start_indexing()

    def _index_failed(self, generation: int):
        def failed(message: str) -> None:
            if generation != self._generation:
                return
            self._refresh_timer.stop()
            self.error.emit(message)
            report = IndexReport(cancelled=True)
            self.last_report = report
            self.indexFinished.emit(report)

        return failed

    def _failed(self, generation: int):
        def failed(message: str) -> None:
            if generation == self._generation:
                self.error.emit(message)

        return failed
