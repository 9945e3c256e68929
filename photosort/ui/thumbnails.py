"""Thumbnails: decoded off the GUI thread, visible ones first, stale requests dropped.

Workers turn a file into a `QImage` (from the disk cache when it is fresh, else by decoding and
then writing the cache) already scaled to the grid's display size, so painting a tile is a plain
blit; the GUI thread turns it into a `QPixmap` and keeps it in a RAM LRU bounded in bytes. After
a zoom, tiles keep their old pixmap (drawn scaled) until a fresh one arrives. Requests form a stack (the newest, i.e. what was just scrolled into view,
goes first) and `keep_only()` drops queued requests for tiles that scrolled out of sight.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage, QPixmap

from photosort.core.decode import make_thumbnail
from photosort.core.errors import DecodeError, describe
from photosort.ui.workers import lower_thread_priority

log = logging.getLogger("photosort.ui.thumbnails")

#: Thumbnails are made once at this size; the grid scales them down for smaller zoom levels.
THUMB_SIDE = 256
RAM_BUDGET = 192 * 1024 * 1024


def cache_key(path: str, size: int, mtime_ns: int, side: int = THUMB_SIDE) -> str:
    raw = f"{path}\0{size}\0{mtime_ns}\0{side}".encode("utf-8", "surrogateescape")
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def load_thumbnail(
    path: str,
    size: int,
    mtime_ns: int,
    cache_dir: Path | None,
    side: int = THUMB_SIDE,
    display: int | None = None,
) -> QImage:
    """A thumbnail as a QImage whose long side is at most `display`; runs on a worker thread.

    Raises DecodeError with the reason."""
    image = _load_cached_or_decode(path, size, mtime_ns, cache_dir, side)
    if display is not None and max(image.width(), image.height()) > display:
        image = image.scaled(
            display,
            display,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
    return image


def _load_cached_or_decode(
    path: str, size: int, mtime_ns: int, cache_dir: Path | None, side: int
) -> QImage:
    cached: Path | None = None
    if cache_dir is not None:
        key = cache_key(path, size, mtime_ns, side)
        cached = cache_dir / key[:2] / f"{key}.jpg"
        if cached.is_file():
            image = QImage(str(cached))
            if not image.isNull():
                return image
    pil = make_thumbnail(path, side)
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(f".{threading.get_ident()}.tmp")
            pil.save(tmp, "JPEG", quality=85)
            os.replace(tmp, cached)
        except OSError as exc:  # a full or read-only cache costs speed, never the thumbnail
            log.info("thumbnail cache not written: %s", exc)
    data = pil.tobytes()
    image = QImage(data, pil.width, pil.height, pil.width * 3, QImage.Format.Format_RGB888)
    return image.copy()  # own the pixels: `data` dies with this frame


class _Relay(QObject):
    done = Signal(str, QImage, str)


class _Drain(QRunnable):
    """Takes requests off the shared stack until it is empty."""

    def __init__(self, owner: ThumbnailCache) -> None:
        super().__init__()
        self.owner = owner

    def run(self) -> None:
        lower_thread_priority()
        owner = self.owner
        while True:
            request = owner._take()
            if request is None:
                return
            path, size, mtime, generation, display = request
            try:
                image = load_thumbnail(path, size, mtime, owner.cache_dir, owner.side, display)
                error = ""
            except DecodeError as exc:
                image, error = QImage(), str(exc) or "cannot read"
            except Exception as exc:  # never lose a worker to one bad file
                log.exception("thumbnail failed for %s", path)
                image, error = QImage(), describe(exc)
            owner._relay.done.emit(f"{generation}\0{display}\0{path}", image, error)


class ThumbnailCache(QObject):
    """RAM LRU of pixmaps in front of a disk cache, filled by a small thread pool."""

    ready = Signal(str)  # path: its pixmap (or error) is now available

    def __init__(
        self,
        cache_dir: Path | None,
        threads: int = 2,
        side: int = THUMB_SIDE,
        ram_budget: int = RAM_BUDGET,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.cache_dir = cache_dir
        self.side = side
        self.ram_budget = ram_budget
        self._pixmaps: OrderedDict[str, QPixmap] = OrderedDict()
        self._made_for: dict[str, int] = {}  # path -> display side its pixmap was made for
        self.display = side
        self._bytes = 0
        self._errors: dict[str, str] = {}
        self._lock = threading.Lock()
        self._queue: OrderedDict[str, tuple[int, int]] = OrderedDict()  # guarded by _lock
        self._in_flight: set[str] = set()  # guarded by _lock
        self._drains = 0  # running _Drain tasks, guarded by _lock
        self._generation = 0
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max(1, threads))
        self._relay = _Relay()
        self._relay.done.connect(self._on_done, Qt.ConnectionType.QueuedConnection)

    # -- GUI thread -----------------------------------------------------------------------------

    def pixmap(self, path: str) -> QPixmap | None:
        pm = self._pixmaps.get(path)
        if pm is not None:
            self._pixmaps.move_to_end(path)
        return pm

    def error(self, path: str) -> str | None:
        return self._errors.get(path)

    def set_display_side(self, side: int) -> None:
        """The grid's tile size in device pixels; later thumbnails are made at this size."""
        self.display = max(16, min(int(side), self.side))

    def is_fresh(self, path: str) -> bool:
        return self._made_for.get(path) == self.display

    def request(self, path: str, size: int, mtime_ns: int) -> None:
        """Ask for a thumbnail; the newest request is served first."""
        if path in self._errors or (path in self._pixmaps and self.is_fresh(path)):
            return
        with self._lock:
            if path in self._in_flight:
                return
            if path in self._queue:
                self._queue.move_to_end(path)
                return
            self._queue[path] = (size, mtime_ns)
            start = self._drains < self._pool.maxThreadCount()
            if start:
                self._drains += 1
        if start:
            self._pool.start(_Drain(self))

    def prefetch(self, entries: list[tuple[str, int, int]]) -> None:
        """Queue thumbnails likely needed next (the page below); served after visible ones."""
        start = False
        with self._lock:
            for path, size, mtime_ns in entries:
                if path in self._in_flight or path in self._queue or path in self._errors:
                    continue
                if path in self._pixmaps and self._made_for.get(path) == self.display:
                    continue
                self._queue[path] = (size, mtime_ns)
                self._queue.move_to_end(path, last=False)  # the bottom of the stack
            if self._queue and self._drains < self._pool.maxThreadCount():
                self._drains += 1
                start = True
        if start:
            self._pool.start(_Drain(self))

    def keep_only(self, paths: set[str]) -> None:
        """Drop queued requests for tiles no longer visible."""
        with self._lock:
            for path in [p for p in self._queue if p not in paths]:
                del self._queue[path]

    def clear(self) -> None:
        """Forget everything (another folder): results still in flight are ignored."""
        with self._lock:
            self._queue.clear()
            self._in_flight.clear()
            self._generation += 1
        self._pixmaps.clear()
        self._made_for.clear()
        self._errors.clear()
        self._bytes = 0

    def pending(self) -> int:
        with self._lock:
            return len(self._queue) + len(self._in_flight)

    def wait(self, msecs: int = 10_000) -> bool:
        return self._pool.waitForDone(msecs)

    def shutdown(self) -> None:
        with self._lock:
            self._queue.clear()
        self._pool.waitForDone(5_000)

    @Slot(str, QImage, str)
    def _on_done(self, tagged: str, image: QImage, error: str) -> None:
        generation, display, path = tagged.split("\0", 2)
        with self._lock:
            self._in_flight.discard(path)
        if int(generation) != self._generation:
            return
        if error or image.isNull():
            self._errors[path] = error or "cannot make a thumbnail"
        else:
            pm = QPixmap.fromImage(image)
            old = self._pixmaps.pop(path, None)
            if old is not None:
                self._bytes -= _cost(old)
            self._pixmaps[path] = pm
            self._made_for[path] = int(display)
            self._bytes += _cost(pm)
            while self._bytes > self.ram_budget and len(self._pixmaps) > 1:
                gone, old = self._pixmaps.popitem(last=False)
                self._made_for.pop(gone, None)
                self._bytes -= _cost(old)
        self.ready.emit(path)

    # -- worker threads -------------------------------------------------------------------------

    def _take(self) -> tuple[str, int, int, int, int] | None:
        with self._lock:
            if not self._queue:
                self._drains -= 1
                return None
            path, (size, mtime) = self._queue.popitem(last=True)
            self._in_flight.add(path)
            return path, size, mtime, self._generation, self.display


def _cost(pm: QPixmap) -> int:
    return max(1, pm.width() * pm.height() * 4)
