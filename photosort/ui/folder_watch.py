"""Watching the open folder: photos added, changed, removed or renamed are picked up without a
click.

watchdog's observer reports file-system events on its own thread; the ones that can matter (a
photo's name, or a folder, outside hidden places) are passed to the GUI thread, where a
single-shot timer waits for a quiet moment (a copy of 500 photos is one change, not 500) and
then emits `changed`. Setting a watch up walks the whole tree (one inotify watch per folder),
so starting and stopping run on a worker, never on the GUI thread.
"""

from __future__ import annotations

import logging
import os
import threading

from PySide6.QtCore import QObject, QTimer, Signal

from photosort.core.files import is_photo_name
from photosort.ui.workers import run_task

log = logging.getLogger("photosort.ui.watch")

#: Quiet time before a burst of events becomes one `changed` (ms).
DEBOUNCE_MS = 700


class _Relay(QObject):
    event = Signal()  # emitted on watchdog's thread, delivered on the GUI thread


def matters(path: str, root: str, is_directory: bool) -> bool:
    """Whether an event at `path` can change what the folder shows."""
    rel = os.path.relpath(path, root)
    if rel == "." or rel.startswith(".."):
        return False
    if any(part.startswith(".") for part in rel.split(os.sep)):
        return False  # hidden places (and the scanner skips them)
    return is_directory or is_photo_name(path)


class FolderWatcher(QObject):
    changed = Signal()  # after a quiet moment following one or more relevant events
    started = Signal(str)  # the folder now watched
    failed = Signal(str)  # why it cannot be watched (too many folders for inotify, say)

    def __init__(self, pool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = pool
        self.folder: str | None = None
        self._observer = None
        self._lock = threading.Lock()  # start and stop of observers never overlap
        self._generation = 0
        self._relay = _Relay(self)
        self._timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._relay.event.connect(self._timer.start)
        self._timer.timeout.connect(self.changed)

    def watch(self, folder: str) -> None:
        """Watch `folder` (and everything below it) instead of what was watched before."""
        self._generation += 1
        generation = self._generation
        self._timer.stop()
        self.folder = folder
        old, self._observer = self._observer, None
        relay = self._relay

        def start():
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer

            class Handler(FileSystemEventHandler):
                def on_any_event(self, event) -> None:
                    if event.event_type in ("opened", "closed_no_write"):
                        return  # reading a file changes nothing
                    paths = [event.src_path, getattr(event, "dest_path", "") or ""]
                    if any(p and matters(os.fsdecode(p), folder, event.is_directory)
                           for p in paths):  # fmt: skip
                        relay.event.emit()

            with self._lock:
                _stop(old)
                observer = Observer()
                observer.daemon = True
                observer.schedule(Handler(), folder, recursive=True)
                observer.start()
                return observer

        def done(observer) -> None:
            if generation != self._generation:
                run_task(lambda: self._stop_locked(observer), pool=self.pool)
                return
            self._observer = observer
            self.started.emit(folder)

        def failed(message: str) -> None:
            if generation == self._generation:
                log.warning("cannot watch %s: %s", folder, message)
                self.failed.emit(message)

        run_task(start, done, failed, pool=self.pool)

    def stop(self, wait: bool = False) -> None:
        """Stop watching; `wait` (at shutdown) joins the observer here."""
        self._generation += 1
        self._timer.stop()
        self.folder = None
        observer, self._observer = self._observer, None
        if observer is None:
            return
        if wait:
            self._stop_locked(observer)
        else:
            run_task(lambda: self._stop_locked(observer), pool=self.pool)

    def _stop_locked(self, observer) -> None:
        with self._lock:
            _stop(observer)


def _stop(observer) -> None:
    if observer is None:
        return
    try:
        observer.stop()
        observer.join(timeout=5)
    except Exception as exc:  # a watch that is already gone must not fail the next one
        log.info("stopping a folder watch: %s", exc)
