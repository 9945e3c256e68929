"""One helper to run work off the GUI thread and come back (after Picard's `run_task`).

`run_task(fn, on_done, on_error, pool=...)` runs `fn` on a `QThreadPool` and calls `on_done(result)`
or `on_error(message)` on the GUI thread. `fn` may accept a `report` keyword: calling it from the
worker emits `on_progress(value)` on the GUI thread. Exceptions never vanish: a `PhotoSortError`
reaches `on_error` as its message, anything else also goes to the log with its traceback.

Pools are separated by purpose so a long indexing run never delays a thumbnail or a ranking.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

from photosort.core.errors import Cancelled, PhotoSortError, plain_reason
from photosort.core.files import display_path

log = logging.getLogger("photosort.ui")

#: How much nicer than the GUI thread worker threads are.
BACKGROUND_NICE = 5


class _Relay(QObject):
    """Lives on the GUI thread; signals emitted from a worker are queued to its own slots, so
    callbacks always run on the GUI thread."""

    done = Signal(object)
    failed = Signal(str)
    progress = Signal(object)
    cancelled = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.handle: TaskHandle | None = None
        self.on_done: Callable[[Any], None] | None = None
        self.on_error: Callable[[str], None] | None = None
        self.on_progress: Callable[[Any], None] | None = None
        self.on_cancelled: Callable[[], None] | None = None
        self.done.connect(self._done, Qt.ConnectionType.QueuedConnection)
        self.failed.connect(self._failed, Qt.ConnectionType.QueuedConnection)
        self.progress.connect(self._progress, Qt.ConnectionType.QueuedConnection)
        self.cancelled.connect(self._cancelled, Qt.ConnectionType.QueuedConnection)

    def _live(self, final: bool) -> bool:
        handle = self.handle
        if handle is None:
            return False
        if final:
            handle._finish()
        return not handle.discarded

    @Slot(object)
    def _done(self, result: object) -> None:
        if self._live(True) and self.on_done is not None:
            self.on_done(result)

    @Slot(str)
    def _failed(self, message: str) -> None:
        if self._live(True) and self.on_error is not None:
            self.on_error(message)

    @Slot(object)
    def _progress(self, value: object) -> None:
        if self._live(False) and self.on_progress is not None:
            self.on_progress(value)

    @Slot()
    def _cancelled(self) -> None:
        if self._live(True) and self.on_cancelled is not None:
            self.on_cancelled()


_niced = threading.local()


def lower_thread_priority(step: int = BACKGROUND_NICE) -> None:
    """Make the calling worker thread yield the CPU to the GUI thread (Linux: per thread).

    On a busy machine the scheduler then runs the GUI thread first whenever it has work."""
    if getattr(_niced, "done", False):
        return
    _niced.done = True
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + step)


class _Task(QRunnable):
    def __init__(self, fn: Callable[..., Any], relay: _Relay, wants_report: bool) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._fn = fn
        self._relay = relay
        self._wants_report = wants_report

    def run(self) -> None:
        lower_thread_priority()
        try:
            self._run()
        except RuntimeError as exc:  # the relay was deleted: the app is closing, nobody listens
            log.debug("task result dropped: %s", exc)

    def _report(self, value: object) -> None:
        """The `report` a task calls: progress for the GUI thread. When the relay is gone (the
        app is closing and its objects are being deleted) nobody listens any more: the task
        stops as if cancelled instead of failing with Qt's "Signal source has been deleted"."""
        try:
            self._relay.progress.emit(value)
        except RuntimeError:
            if shiboken6.isValid(self._relay):
                raise
            raise Cancelled("nobody listens any more (the app is closing)") from None

    def _run(self) -> None:
        relay = self._relay
        try:
            result = self._fn(report=self._report) if self._wants_report else self._fn()
        except Cancelled:
            relay.cancelled.emit()
        except PhotoSortError as exc:
            log.warning("task failed: %s", exc)
            relay.failed.emit(str(exc))
        except MemoryError:
            relay.failed.emit("not enough memory for this operation")
        except OSError as exc:  # a disk or permission problem: words, not `[Errno 13] ...`
            log.error("disk error in a worker\n%s", traceback.format_exc())
            where = f": {display_path(os.fsdecode(exc.filename))}" if exc.filename else ""
            relay.failed.emit(f"{plain_reason(exc)}{where}")
        except Exception as exc:
            log.error("unexpected error in a worker\n%s", traceback.format_exc())
            relay.failed.emit(f"unexpected error: {exc.__class__.__name__}: {exc}")
        else:
            relay.done.emit(result)


class TaskHandle:
    """Keeps a task's relay alive until it reports; `discard()` ignores whatever comes back."""

    _live: set[TaskHandle] = set()

    def __init__(self, relay: _Relay) -> None:
        self.relay = relay
        self.discarded = False
        self.finished = False
        TaskHandle._live.add(self)

    def discard(self) -> None:
        self.discarded = True

    def _finish(self) -> None:
        self.finished = True
        TaskHandle._live.discard(self)


def _accepts_report(fn: Callable[..., Any]) -> bool:
    try:
        return "report" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def run_task(
    fn: Callable[..., Any],
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[str], None] | None = None,
    *,
    pool: QThreadPool | None = None,
    on_progress: Callable[[Any], None] | None = None,
    on_cancelled: Callable[[], None] | None = None,
) -> TaskHandle:
    """Run `fn()` on `pool` (the global pool by default); callbacks run on the GUI thread."""
    relay = _Relay()
    handle = TaskHandle(relay)
    relay.handle = handle
    relay.on_done, relay.on_error = on_done, on_error
    relay.on_progress, relay.on_cancelled = on_progress, on_cancelled
    (pool or QThreadPool.globalInstance()).start(_Task(fn, relay, _accepts_report(fn)))
    return handle


class Pools:
    """The app's thread pools, one per purpose."""

    def __init__(self) -> None:
        self.index = _pool(1, "index")  # the encoder: one indexing run at a time
        self.io = _pool(2, "io")  # folder loads, store reads, rankings, previews
        self.export = _pool(1, "export")

    def all(self) -> list[QThreadPool]:
        return [self.index, self.io, self.export]

    def wait(self, msecs: int = 10_000) -> bool:
        """Wait for our pools, and briefly for the global one (tasks of optional views)."""
        ours = all(p.waitForDone(msecs) for p in self.all())
        return QThreadPool.globalInstance().waitForDone(min(msecs, 3_000)) and ours


def _pool(threads: int, name: str) -> QThreadPool:
    pool = QThreadPool()
    pool.setObjectName(name)
    pool.setMaxThreadCount(threads)
    pool.setExpiryTimeout(30_000)
    return pool
