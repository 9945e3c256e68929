"""Thumbnails: off the GUI thread, disk-cached, error tiles, stale requests dropped."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QImage

from photosort.ui.thumbnails import ThumbnailCache, cache_key, load_thumbnail
from tests.conftest import make_photo


def _entry(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path), st.st_size, st.st_mtime_ns


def test_thumbnail_is_made_once_then_read_from_disk(tmp_path, monkeypatch):
    photo = make_photo(tmp_path / "a.jpg", seed=1, size=(400, 300))
    cache = tmp_path / "cache"
    image = load_thumbnail(*_entry(photo), cache, side=128, display=96)
    assert isinstance(image, QImage) and max(image.width(), image.height()) == 96
    key = cache_key(*_entry(photo), 128)
    cached = cache / key[:2] / f"{key}.jpg"
    assert cached.is_file()

    def no_decoding(*_args):
        raise AssertionError("decoded although the disk cache had it")

    monkeypatch.setattr("photosort.ui.thumbnails.make_thumbnail", no_decoding)
    again = load_thumbnail(*_entry(photo), cache, side=128)
    assert (again.width(), again.height()) == (128, 96)
    make_photo(photo, seed=2, size=(400, 300), quality=70)  # an edited file gets a new key
    assert cache_key(*_entry(photo), 128) != key


def test_cache_loads_visible_first_reports_errors_and_drops_stale(qtbot, tmp_path):
    photos = [make_photo(tmp_path / f"p{i}.jpg", seed=i) for i in range(6)]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a photo")
    cache = ThumbnailCache(tmp_path / "cache", threads=1)
    try:
        with qtbot.waitSignal(cache.ready, timeout=10_000) as blocker:
            cache.request(*_entry(broken))
        assert blocker.args == [str(broken)]
        assert cache.pixmap(str(broken)) is None
        assert "not a recognised image" in cache.error(str(broken))

        # Queue several, then say only the last two are still visible: the rest is dropped.
        cache._drains = 1  # pretend the only worker is busy while the queue is built
        for p in photos[:-1]:
            cache.request(*_entry(p))
        assert cache.pending() == 5
        cache.keep_only({str(photos[-1]), str(photos[-2])})
        assert cache.pending() == 1
        cache._drains = 0
        cache.request(*_entry(photos[-1]))  # scrolled into view: a worker starts
        qtbot.waitUntil(lambda: cache.pending() == 0, timeout=10_000)
        done = [p for p in photos if cache.pixmap(str(p)) is not None]
        assert done == [photos[-2], photos[-1]]
    finally:
        cache.shutdown()


def test_prefetched_thumbnails_come_after_visible_ones(qtbot, tmp_path):
    photos = [make_photo(tmp_path / f"q{i}.jpg", seed=i) for i in range(4)]
    cache = ThumbnailCache(None, threads=1)
    order: list[str] = []
    cache.ready.connect(order.append)
    try:
        cache._drains = 1  # hold the worker back while queueing
        cache.request(*_entry(photos[0]))
        cache.prefetch([_entry(p) for p in photos[1:3]])
        cache._drains = 0
        cache.request(*_entry(photos[3]))  # the newest visible tile goes first
        qtbot.waitUntil(lambda: len(order) == 4, timeout=10_000)
        assert order == [str(photos[3]), str(photos[0]), str(photos[1]), str(photos[2])]
    finally:
        cache.shutdown()
