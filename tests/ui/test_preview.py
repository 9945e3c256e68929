"""The preview: zoom, 1:1, fit, full screen, readable EXIF, what the model sees on request,
and a failed hand-off said in the window."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QLocale, QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from photosort.core.encoders import Registry, load_manifest
from photosort.ui.dialogs.preview_dialog import PREVIEW_SIDE, format_taken
from tests.conftest import make_photo
from tests.ui.conftest import INDEX_TIMEOUT, open_and_index, write_model

LENS = "EF-S18-55mm f/3.5-5.6 IS STM Macro-Zoom-Lens-With-A-Very-Long-Name_Version-2"


def _exif_photo(path: Path, size=(96, 72)) -> Path:
    make_photo(path, seed=7, size=size)
    img = Image.open(path)
    exif = Image.Exif()
    exif[272] = "Test Camera"
    sub = exif.get_ifd(0x8769)
    sub[36867] = "2015:04:10 20:12:23"
    sub[42036] = LENS
    img.save(path, exif=exif, quality=90)
    return path


def _open(qtbot, window, path: Path):
    dialog = window.show_preview(str(path))
    qtbot.waitUntil(lambda: dialog.data is not None, timeout=INDEX_TIMEOUT)
    return dialog


@pytest.fixture
def english(qtbot):
    before = QLocale()
    QLocale.setDefault(QLocale(QLocale.Language.English, QLocale.Country.UnitedKingdom))
    yield
    QLocale.setDefault(before)


def test_dates_read_as_the_locale_writes_them(english):
    assert format_taken("2015:04:10 20:12:23") == "Friday, 10 April 2015, 20:12"
    assert format_taken("2015:04:10 20:12:23\x00") == "Friday, 10 April 2015, 20:12"
    assert format_taken("    :  :     :  :  ") == ":  :     :  :"  # junk stays as it is
    german = QLocale(QLocale.Language.German, QLocale.Country.Germany)
    assert format_taken("2015:04:10 20:12:23", german) == "Freitag, 10. April 2015, 20:12"


def test_the_side_panel_shows_a_readable_date_and_the_whole_lens(
    qtbot, make_window, tmp_path, english
):
    folder = tmp_path / "exif"
    _exif_photo(folder / "camera.jpg")
    window = make_window()
    open_and_index(qtbot, window, folder)
    dialog = _open(qtbot, window, folder / "camera.jpg")
    values = dialog.value_labels()
    assert values["Taken"].text() == "Friday, 10 April 2015, 20:12"
    lens = values["Lens"]
    assert lens.text().replace("\u200b", "") == LENS
    assert lens.toolTip() == LENS
    # Nothing is cut off: the wrapped text fits the label's width and height.
    # (the rows are laid out on the next pass of the event loop)
    qtbot.waitUntil(lambda: lens.isVisible() and 0 < lens.width() < dialog.panel.width())
    metrics = lens.fontMetrics()
    for part in lens.text().replace("\u200b", " ").split():
        assert metrics.horizontalAdvance(part) <= lens.width(), part
    assert lens.heightForWidth(lens.width()) <= lens.height()
    assert lens.geometry().right() <= dialog.panel.viewport().width()


def test_zoom_one_to_one_fit_and_full_resolution(qtbot, make_window, tmp_path):
    folder = tmp_path / "big"
    make_photo(folder / "large.jpg", seed=3, size=(2000, 1500), quality=90)
    window = make_window()
    open_and_index(qtbot, window, folder)
    dialog = _open(qtbot, window, folder / "large.jpg")
    view = dialog.view
    assert view.fitting
    assert view.pixmap_resolution() == pytest.approx(PREVIEW_SIDE / 2000)
    fit = view.zoom()
    assert fit < 1.0

    qtbot.keyClick(dialog, Qt.Key.Key_Plus)
    assert view.zoom() == pytest.approx(fit * 1.25)
    assert not view.fitting
    qtbot.keyClick(dialog, Qt.Key.Key_Minus)
    assert view.zoom() == pytest.approx(fit)

    with qtbot.waitSignal(dialog.detailLoaded, timeout=INDEX_TIMEOUT):
        qtbot.keyClick(dialog, Qt.Key.Key_1)  # 1:1 needs every pixel: loaded on a worker
    assert view.zoom() == pytest.approx(1.0)
    assert view.item.pixmap().width() == 2000
    assert dialog.zoom_label.text() == "100 %"

    qtbot.keyClick(dialog, Qt.Key.Key_0)
    assert view.fitting and view.zoom() == pytest.approx(fit)

    centre = QPointF(view.viewport().rect().center())
    wheel = QWheelEvent(
        centre,
        view.viewport().mapToGlobal(centre),
        QPoint(),
        QPoint(0, 120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.viewport(), wheel)
    assert view.zoom() == pytest.approx(fit * 1.25)


def test_fit_follows_the_window_size(qtbot, make_window, tmp_path):
    folder = tmp_path / "big"
    make_photo(folder / "large.jpg", seed=3, size=(1600, 1200), quality=90)
    window = make_window()
    open_and_index(qtbot, window, folder)
    dialog = _open(qtbot, window, folder / "large.jpg")
    before = dialog.view.zoom()
    dialog.resize(dialog.width() + 300, dialog.height() + 200)
    qtbot.waitUntil(lambda: dialog.view.zoom() > before)


def test_f_toggles_full_screen_and_escape_leaves_it(qtbot, make_window, photos):
    window = make_window()
    open_and_index(qtbot, window, photos)
    dialog = _open(qtbot, window, photos / "img002.jpg")
    qtbot.keyClick(dialog, Qt.Key.Key_F)
    assert dialog.isFullScreen() and dialog.full_screen_action.isChecked()
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isFullScreen()
    assert dialog.isVisible()  # the first Esc only leaves full screen
    qtbot.keyClick(dialog, Qt.Key.Key_F)
    qtbot.keyClick(dialog, Qt.Key.Key_F)
    assert not dialog.isFullScreen()


def _redraw_registry(tmp_path: Path, models_dir: Path) -> Registry:
    folder = tmp_path / "redraw-models"
    folder.mkdir()
    write_model(folder, "redraw-4x4", "AveragePool", 16, "euclidean", decoder=True,
                shows_reconstruction=True)  # fmt: skip
    return Registry([models_dir, folder], threads=1)


def test_what_the_model_sees_is_shown_only_when_asked(qtbot, make_window, photos, tmp_path,
                                                      models_dir):  # fmt: skip
    window = make_window(reg=_redraw_registry(tmp_path, models_dir))
    window.model_combo.setCurrentIndex(window.model_combo.findData("redraw-4x4"))
    open_and_index(qtbot, window, photos)
    dialog = _open(qtbot, window, photos / "img001.jpg")
    assert dialog.model_button is not None and dialog.model_button.isVisible()
    assert not dialog.model_view.isVisible()
    assert dialog.reconstruction is None  # not even computed
    with qtbot.waitSignal(dialog.reconstructionShown, timeout=INDEX_TIMEOUT):
        dialog.model_button.click()
    assert dialog.model_view.isVisible()
    drawn = dialog.model_view.pixmap()
    assert not drawn.isNull()
    # The model saw a 96×72 photo squashed square; it is shown 4:3 again.
    assert drawn.width() / drawn.height() == pytest.approx(96 / 72, rel=0.02)
    assert "Test redraw-4x4" in dialog.model_title.text()
    # Browsing on keeps it shown, for the next photo.
    with qtbot.waitSignal(dialog.reconstructionShown, timeout=INDEX_TIMEOUT):
        qtbot.keyClick(dialog, Qt.Key.Key_Right)
    assert dialog.path == str(photos / "img002.jpg")
    dialog.model_button.click()
    assert not dialog.model_view.isVisible()


def test_models_without_the_manifest_flag_offer_no_reconstruction(qtbot, make_window, photos):
    window = make_window()  # max-4x4: a decoder, but no "shows_reconstruction"
    window.model_combo.setCurrentIndex(window.model_combo.findData("max-4x4"))
    open_and_index(qtbot, window, photos)
    dialog = _open(qtbot, window, photos / "img001.jpg")
    assert dialog.model_button is None
    qtbot.keyClick(dialog, Qt.Key.Key_M)
    assert dialog.reconstruction is None and not dialog.model_view.isVisible()


def test_the_manifest_field_is_read_and_checked(tmp_path, models_dir):
    registry = _redraw_registry(tmp_path, models_dir)
    assert registry.info("redraw-4x4").shows_reconstruction
    assert not registry.info("max-4x4").shows_reconstruction
    assert registry.info("redraw-4x4").to_json()["shows_reconstruction"] is True
    bad = tmp_path / "redraw-models" / "redraw-4x4.json"
    raw = json.loads(bad.read_text())
    raw["shows_reconstruction"] = "yes"
    bad.write_text(json.dumps(raw))
    with pytest.raises(Exception, match="shows_reconstruction"):
        load_manifest(bad)


def test_a_viewer_that_cannot_start_is_said_in_the_window(qtbot, make_window, photos):
    # The offscreen platform has no way to open a file in another program: a real failure.
    window = make_window()
    open_and_index(qtbot, window, photos)
    dialog = _open(qtbot, window, photos / "img001.jpg")
    with qtbot.waitSignal(dialog.messageShown) as shown:
        dialog.viewer_button.click()
    assert dialog.message.isVisible()
    assert "could not be opened" in shown.args[0]
    assert "Errno" not in shown.args[0]


def test_the_grids_open_in_viewer_failing_is_said_too(qtbot, make_window, photos):
    window = make_window()
    open_and_index(qtbot, window, photos)
    menu = window.photo_menu(0)
    action = next(a for a in menu.actions() if a.text() == "Open in default viewer")
    with qtbot.waitSignal(window.errorShown) as shown:
        action.trigger()
    assert "could not be opened" in shown.args[0] and "Errno" not in shown.args[0]
