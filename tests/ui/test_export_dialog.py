"""The export dialog in a new user's first hour (issue 15, items 1 and 8): sensible defaults,
no copies of files that are not photos, and never a target inside the folder being sorted."""

from __future__ import annotations

import os
from pathlib import Path

from tests.ui.conftest import INDEX_TIMEOUT, make_folder, open_and_index


def _sorted_like_two(qtbot, window, folder: Path) -> list[str]:
    refs = [str(folder / "img001.jpg"), str(folder / "img004.jpg")]
    window.grid.select_paths(refs)
    with qtbot.waitSignal(window.sorter.orderApplied, timeout=INDEX_TIMEOUT):
        window.sort_by_similarity()
    assert sorted(window.grid.selected_paths()) == sorted(refs)
    return refs


def test_all_photos_is_the_default_and_skips_what_is_not_a_photo(qtbot, make_window, tmp_path):
    folder = make_folder(tmp_path / "photos", 8)
    (folder / "notes.jpg").write_text("a text file with a photo's name")
    window = make_window()
    open_and_index(qtbot, window, folder)
    _sorted_like_two(qtbot, window, folder)

    dialog = window.show_export()
    # The selection is only the reference photos the sort left selected: not a choice.
    assert dialog.all_button.isChecked() and not dialog.selection_button.isChecked()
    assert dialog.all_button.text() == "All photos (8)"

    target = tmp_path / "out"
    dialog.target.setText(str(target))
    with qtbot.waitSignal(dialog.exportFinished, timeout=INDEX_TIMEOUT):
        dialog.export_button.click()
    names = sorted(os.listdir(target))
    assert len(names) == 9 and "photosort-export.csv" in names
    assert not [n for n in names if "notes" in n]


def test_a_chosen_selection_is_the_default(qtbot, make_window, tmp_path):
    folder = make_folder(tmp_path / "photos", 8)
    window = make_window()
    open_and_index(qtbot, window, folder)
    _sorted_like_two(qtbot, window, folder)
    window.grid.select_paths([str(folder / f"img00{i}.jpg") for i in (2, 3, 5)])
    dialog = window.show_export()
    assert dialog.selection_button.isChecked()
    assert dialog.selection_button.text() == "Only the selection (3)"


def test_a_target_inside_the_folder_is_refused_with_a_reason(qtbot, make_window, tmp_path):
    folder = make_folder(tmp_path / "photos", 4)
    window = make_window()
    open_and_index(qtbot, window, folder)
    dialog = window.show_export()
    for inside in (folder, folder / "sorted"):
        dialog.target.setText(str(inside))
        assert not dialog.export_button.isEnabled()
        assert dialog.target_error.isVisibleTo(dialog)
        assert "inside the folder being sorted" in dialog.target_error.text()
    dialog.target.setText(str(tmp_path / "outside"))
    assert dialog.export_button.isEnabled() and not dialog.target_error.isVisibleTo(dialog)

    # A link that looks elsewhere but leads inside: refused when the export starts.
    link = tmp_path / "elsewhere"
    link.symlink_to(folder)
    dialog.target.setText(str(link / "sorted"))
    with qtbot.waitSignal(dialog.exportFailed, timeout=INDEX_TIMEOUT) as blocker:
        dialog.export_button.click()
    assert "folder being sorted" in blocker.args[0]
    assert sorted(os.listdir(folder)) == [f"img00{i}.jpg" for i in range(4)]


def test_a_target_that_is_a_file_says_so(qtbot, make_window, tmp_path):
    folder = make_folder(tmp_path / "photos", 3)
    blocker_file = tmp_path / "a-file"
    blocker_file.write_text("x")
    window = make_window()
    open_and_index(qtbot, window, folder)
    dialog = window.show_export()
    dialog.target.setText(str(blocker_file))
    with qtbot.waitSignal(dialog.exportFailed, timeout=INDEX_TIMEOUT) as blocker:
        dialog.export_button.click()
    assert "is a file, not a folder" in blocker.args[0]
    assert "File exists" not in dialog.status.text() and "Errno" not in dialog.status.text()


def test_a_worker_disk_error_reaches_the_user_in_words(qtbot) -> None:
    import errno

    from PySide6.QtCore import QThreadPool

    from photosort.ui.workers import run_task

    messages: list[str] = []

    def job() -> None:
        raise PermissionError(errno.EACCES, "Permission denied", "/photos/a.jpg")

    run_task(job, lambda _r: None, messages.append, pool=QThreadPool.globalInstance())
    qtbot.waitUntil(lambda: bool(messages), timeout=INDEX_TIMEOUT)
    assert messages == ["Permission denied: /photos/a.jpg"]
