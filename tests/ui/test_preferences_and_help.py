"""Preferences that take effect, the guide that ships with the app, and a shortcut for every
menu entry."""

from __future__ import annotations

import os
import tomllib
from collections import Counter
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QUrl
from PySide6.QtGui import QTextDocument

from photosort import paths
from photosort.core import disk_cache
from photosort.core.exclude import EXCLUDE_ENV
from photosort.ui.dialogs.help import menu_actions, plain, shortcut_text
from tests.conftest import REPO, make_photo
from tests.ui.conftest import INDEX_TIMEOUT, make_folder, open_and_index


@pytest.fixture(autouse=True)
def restore_exclusions(monkeypatch):
    monkeypatch.setenv(EXCLUDE_ENV, "")  # whatever Preferences set is undone after the test


def _folder_with_extras(root: Path) -> Path:
    make_folder(root, 6)
    make_photo(root / "screen.png", seed=90)
    make_photo(root / "edits" / "e1.jpg", seed=91)
    make_photo(root / "edits" / "e2.jpg", seed=92)
    return root


def test_preferences_take_effect(qtbot, make_window, tmp_path):
    folder = _folder_with_extras(tmp_path / "photos")
    window = make_window()
    open_and_index(qtbot, window, folder)
    assert window.model.rowCount() == 9

    dialog = window.show_preferences()
    dialog.threads.setValue(1)
    dialog.cache_limit.setValue(200)
    dialog.exclude.setPlainText("*.png\nedits\n")
    with qtbot.waitSignal(window.library.indexFinished, timeout=INDEX_TIMEOUT):
        dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    # The scanner leaves them out: grid, counts and store agree.
    assert window.model.rowCount() == 6
    assert not any(p.endswith(".png") or "/edits/" in p for p in window.model.paths_in_order())
    assert os.environ[EXCLUDE_ENV] == "*.png\nedits"
    # The indexer uses the threads from now on.
    assert window.registry.threads == 1
    assert window.registry.encoder("pixels-8x8").threads == 1
    s = window.settings
    assert (s.threads, s.thumb_cache_mb, s.exclude_rules) == (1, 200, ["*.png", "edits"])

    # Letting them in again brings them back.
    dialog = window.show_preferences()
    assert dialog.exclude.toPlainText() == "*.png\nedits"
    dialog.exclude.setPlainText("")
    with qtbot.waitSignal(window.library.indexFinished, timeout=INDEX_TIMEOUT):
        dialog.accept()
    assert window.model.rowCount() == 9


def test_rules_from_an_earlier_run_apply_from_the_start(qtbot, make_window, tmp_path,
                                                       settings_path):  # fmt: skip
    folder = _folder_with_extras(tmp_path / "photos")
    QSettings(str(settings_path), QSettings.Format.IniFormat).setValue(
        "preferences/exclude", "*.png"
    )
    window = make_window()
    open_and_index(qtbot, window, folder)
    assert window.model.rowCount() == 8


def test_default_encoder(qtbot, make_window, photos):
    window = make_window()
    open_and_index(qtbot, window, photos)
    dialog = window.show_preferences()
    i = dialog.encoder.findData("max-4x4")
    dialog.encoder.setCurrentIndex(i)
    assert dialog.encoder_about.text() == "Test encoder max-4x4"
    with qtbot.waitSignal(window.library.indexFinished, timeout=INDEX_TIMEOUT):
        dialog.accept()
    assert window.library.model_id == "max-4x4"
    window.close()
    again = make_window()  # the default wins over the one used last
    assert again.current_model_id() == "max-4x4"


def test_clear_the_thumbnail_cache(qtbot, make_window, photos, tmp_path):
    window = make_window()
    open_and_index(qtbot, window, photos)
    thumbs = tmp_path / "thumbs"
    assert window.thumbnails.cache_dir == thumbs
    # (every photo's thumbnail written: nothing changes the cache while the test measures)
    qtbot.waitUntil(lambda: len(list(thumbs.rglob("*.jpg"))) == 12, timeout=INDEX_TIMEOUT)
    stored = disk_cache.folder_size(thumbs)
    with qtbot.waitSignal(window.cacheTrimmed, timeout=INDEX_TIMEOUT):
        dialog = window.show_preferences()
        with qtbot.waitSignal(dialog.cacheMeasured, timeout=INDEX_TIMEOUT) as measured:
            pass
        assert measured.args[0] == stored and "in use" in dialog.cache_used.text()
        with qtbot.waitSignal(dialog.cacheCleared, timeout=INDEX_TIMEOUT) as cleared:
            dialog.clear_button.click()
        assert cleared.args[0] == stored  # every stored thumbnail deleted
        dialog.accept()  # the limit applies: the cache is trimmed to it (nothing to do here)
    # The grid asks for its thumbnails again: they are made anew.
    qtbot.waitUntil(lambda: len(list(thumbs.rglob("*.jpg"))) == 12, timeout=INDEX_TIMEOUT)


def test_every_menu_entry_has_a_shortcut_of_its_own(qtbot, make_window):
    window = make_window()
    entries = menu_actions(window.menuBar())
    missing = [f"{where} ▸ {plain(a.text())}" for where, a in entries if not a.shortcuts()]
    assert not missing
    keys = Counter(k.toString() for _, a in entries for k in a.shortcuts())
    assert not [k for k, n in keys.items() if n > 1]  # no key does two things
    assert window.preferences_action.shortcut().toString() == "Ctrl+,"


def test_keyboard_shortcuts_lists_every_menu_entry(qtbot, make_window):
    window = make_window()
    dialog = window.show_shortcuts()
    rows = dialog.rows()
    for where, action in menu_actions(window.menuBar()):
        assert (where, plain(action.text()), shortcut_text(action)) in rows
    assert ("Preview", "Full screen", "F (Esc leaves it)") in rows


def test_using_photosort_opens_the_guide_with_its_pictures(qtbot, make_window):
    window = make_window()
    dialog = window.show_guide()
    assert dialog is not None
    text = dialog.browser.toPlainText()
    assert "Using the PhotoSort app" in text and "Sorting" in text
    image = dialog.browser.loadResource(
        QTextDocument.ResourceType.ImageResource.value, QUrl("screenshots/main-window.png")
    )
    assert image is not None and not image.isNull()


def test_the_guide_is_found_installed_and_bundled(tmp_path, monkeypatch):
    assert paths.guide_path() == REPO / "docs" / "using-the-app.md"  # the source tree
    bundle = tmp_path / "bundle"
    (bundle / "docs").mkdir(parents=True)
    (bundle / "docs" / "using-the-app.md").write_text("# guide")
    monkeypatch.setattr("sys._MEIPASS", str(bundle), raising=False)
    assert paths.guide_path() == bundle / "docs" / "using-the-app.md"

    data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]
    assert data["share/photosort/docs"] == ["docs/using-the-app.md"]
    shots = [p for g in data["share/photosort/docs/screenshots"] for p in REPO.glob(g)]
    used = {"main-window.png", "map-view.png"}
    assert used <= {p.name for p in shots}
    spec = (REPO / "photosort.spec").read_text()
    assert '(str(ROOT / "docs" / "using-the-app.md"), "docs")' in spec
    assert '(str(ROOT / "docs" / "screenshots"), "docs/screenshots")' in spec


def test_the_guides_pictures_fit_its_window(qtbot, make_window):
    dialog = make_window().show_guide()
    qtbot.waitExposed(dialog)
    assert dialog.browser.horizontalScrollBar().maximum() == 0  # nothing to scroll sideways
