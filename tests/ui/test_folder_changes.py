"""Files that change while the folder is open (issue 15, item 5): Index Again after adding a
damaged file, and photos added, changed, removed or renamed with no click at all. The grid,
the counts and the Skipped Files list always tell the same story."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from photosort.core.store import Store
from photosort.ui.folder_watch import matters
from tests.conftest import make_photo
from tests.ui.conftest import INDEX_TIMEOUT, make_folder, open_and_index


def _agree(window, photos: int, skipped: int) -> None:
    """Grid rows, status-bar counts and the Skipped Files dialog say the same."""
    assert window.model.rowCount() == photos
    counts = window.status.counts.text()
    assert f"{photos:,} photos" in counts
    assert (f"{skipped:,} skipped" in counts) == bool(skipped)
    dialog = window.show_skipped()
    assert dialog.table.rowCount() == skipped
    dialog.close()


def _open_watched(qtbot, window, folder: Path) -> None:
    with qtbot.waitSignal(window.watcher.started, timeout=INDEX_TIMEOUT):
        open_and_index(qtbot, window, folder)


def test_index_again_after_adding_a_damaged_file(qtbot, make_window, tmp_path) -> None:
    folder = make_folder(tmp_path / "photos", 6)
    window = make_window()
    window.watcher.changed.disconnect()  # only the menu command here
    open_and_index(qtbot, window, folder)
    _agree(window, 6, 0)
    (folder / "damaged.jpg").write_bytes(b"not a jpeg at all")
    make_photo(folder / "new.jpg", seed=77)
    with qtbot.waitSignal(window.library.indexFinished, timeout=INDEX_TIMEOUT) as blocker:
        window.reindex_action.trigger()
    report = blocker.args[0]
    assert len(report.skipped) == 1 and report.indexed == 1
    _agree(window, 8, 1)
    assert window.library.snapshot.skipped[0][0] == str(folder / "damaged.jpg")


def test_added_changed_removed_and_renamed_photos_show_up_by_themselves(
    qtbot, make_window, tmp_path
) -> None:
    folder = make_folder(tmp_path / "photos", 5)
    db = tmp_path / "photosort.sqlite3"
    window = make_window()
    _open_watched(qtbot, window, folder)
    rows = lambda: sorted(Path(p).name for p in window.model.paths_in_order())  # noqa: E731

    # Added (in a new sub-folder too), and a damaged one.
    make_photo(folder / "added.jpg", seed=50)
    make_photo(folder / "sub" / "deeper.jpg", seed=51)
    (folder / "broken.jpg").write_bytes(b"nope")
    qtbot.waitUntil(lambda: window.model.rowCount() == 8 and not window.library.indexing,
                    timeout=INDEX_TIMEOUT)  # fmt: skip
    _agree(window, 8, 1)
    assert window.model.snapshot.indexed_count == 7

    # Changed in place: a new latent for the same name.
    with Store(db) as store:
        _, before = store.latents_for_paths([str(folder / "img001.jpg")], "pixels-8x8")
    make_photo(folder / "img001.jpg", seed=999)

    def latent_changed() -> bool:
        with Store(db) as store:
            _, now = store.latents_for_paths([str(folder / "img001.jpg")], "pixels-8x8")
        return len(now) == 1 and not np.allclose(now, before)

    qtbot.waitUntil(latent_changed, timeout=INDEX_TIMEOUT)

    # Removed and renamed.
    os.remove(folder / "img000.jpg")
    os.rename(folder / "img002.jpg", folder / "renamed.jpg")
    os.remove(folder / "broken.jpg")
    qtbot.waitUntil(lambda: "renamed.jpg" in rows() and "img000.jpg" not in rows()
                    and window.model.rowCount() == 6 and not window.library.indexing,
                    timeout=INDEX_TIMEOUT)  # fmt: skip
    _agree(window, 6, 0)
    assert rows() == ["added.jpg", "deeper.jpg", "img001.jpg", "img003.jpg", "img004.jpg",
                      "renamed.jpg"]  # fmt: skip


def test_what_the_watcher_lets_through(tmp_path) -> None:
    root = str(tmp_path)
    assert matters(f"{root}/a.jpg", root, False)
    assert matters(f"{root}/sub", root, True)
    assert not matters(f"{root}/notes.txt", root, False)
    assert not matters(f"{root}/.cache/a.jpg", root, False)
    assert not matters(f"{root}/x.sqlite3-wal", root, False)
    assert not matters(root, root, True)
