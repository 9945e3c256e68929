"""The grid in a new user's first hour (issue 15, item 9): natural name order, a new folder
starts at the top, status messages never run under the counts, long names stay distinct."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from photosort.ui.names import elide_keeping
from tests.conftest import make_photo
from tests.ui.conftest import INDEX_TIMEOUT, make_folder, open_and_index


def test_sort_by_name_is_natural(qtbot, make_window, tmp_path: Path) -> None:
    folder = tmp_path / "numbers"
    for i, n in enumerate((0, 1, 2, 10, 100, 11, 3)):
        make_photo(folder / f"{n}.jpg", seed=i)
    window = make_window()
    open_and_index(qtbot, window, folder)
    names = [Path(p).name for p in window.model.paths_in_order()]
    assert names == ["0.jpg", "1.jpg", "2.jpg", "3.jpg", "10.jpg", "11.jpg", "100.jpg"]


def test_a_newly_opened_folder_starts_at_the_top(qtbot, make_window, tmp_path: Path) -> None:
    big = make_folder(tmp_path / "big", 120)
    other = make_folder(tmp_path / "other", 90)
    window = make_window()
    window.resize(700, 500)
    open_and_index(qtbot, window, big)
    bar = window.grid.verticalScrollBar()
    assert bar.maximum() > 0
    bar.setValue(bar.maximum())
    open_and_index(qtbot, window, other)
    assert bar.maximum() > 0 and bar.value() == 0


def test_status_messages_never_run_under_the_counts(qtbot, make_window, photos) -> None:
    window = make_window()
    window.resize(800, 500)
    open_and_index(qtbot, window, photos)
    long = "Indexing done: 338 indexed, 0 unchanged, 0 recognised after a move or copy, " * 2
    window.statusBar().showMessage(long)
    QApplication.processEvents()
    bar = window.statusBar()
    room = bar.message_rect()
    assert room.right() < window.status.geometry().left()
    shown = bar.shown_text()
    assert shown.endswith("…") and bar.fontMetrics().horizontalAdvance(shown) <= room.width()
    window.statusBar().showMessage("Indexing done")
    assert bar.shown_text() == "Indexing done"


def test_long_names_in_the_grid_stay_distinct(qtbot, make_window, tmp_path: Path) -> None:
    folder = tmp_path / "long"
    stems = [f"Pictures from the holiday 2015-04-1{d} at 20.12.2{s} - reference" for d in (0, 1)
             for s in range(3, 7)]  # fmt: skip
    for i, stem in enumerate(stems):
        make_photo(folder / f"{stem}.jpg", seed=i)
    window = make_window()
    window.grid.set_thumb_size(96)
    open_and_index(qtbot, window, folder)
    delegate = window.grid.delegate
    width = delegate.tile_size().width() - 16
    tiles = [window.model.tile(r) for r in range(window.model.rowCount())]
    shown = [delegate._short_name(t.name, t.name_spans, width) for t in tiles]
    assert len(set(shown)) == len(stems), shown
    plain = [
        delegate._name_metrics.elidedText(t.name, Qt.TextElideMode.ElideMiddle, width)
        for t in tiles
    ]
    assert len(set(plain)) < len(stems)  # what the grid showed before
    metrics = delegate._name_metrics
    assert shown[0] == elide_keeping(tiles[0].name, tiles[0].name_spans,
                                     lambda t: metrics.horizontalAdvance(t) <= width)  # fmt: skip
    with qtbot.waitSignal(window.sorter.orderApplied, timeout=INDEX_TIMEOUT):
        window.sort_like([str(folder / f"{stems[0]}.jpg")])


def test_sort_by_date_taken_reads_exif_then_the_file_time(qtbot, make_window, tmp_path: Path):
    from PIL import Image

    folder = tmp_path / "dated"
    taken = {"a.jpg": "2019:06:01 10:00:00", "b.jpg": "2015:04:10 20:12:23",
             "c.jpg": "2021:01:01 00:00:00"}  # fmt: skip
    for i, (name, when) in enumerate(taken.items()):
        path = make_photo(folder / name, seed=i)
        exif = Image.Exif()
        exif.get_ifd(0x8769)[36867] = when  # DateTimeOriginal
        Image.open(path).save(path, exif=exif)
    no_exif = make_photo(folder / "d.jpg", seed=9)
    os.utime(no_exif, (1_500_000_000, 1_500_000_000))  # July 2017, file time only
    window = make_window()
    open_and_index(qtbot, window, folder)
    with qtbot.waitSignal(window.sorter.orderApplied, timeout=INDEX_TIMEOUT):
        window.sort_date_action.trigger()
    names = [Path(p).name for p in window.model.paths_in_order()]
    assert names == ["b.jpg", "d.jpg", "a.jpg", "c.jpg"]
