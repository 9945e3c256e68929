"""Choosing the encoder: one name everywhere, the keyboard stays with the photos, and a long
re-index is asked about first."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from photosort.core.encoders import load_manifest
from photosort.ui.encoder_choice import describe_duration, estimate_seconds
from tests.conftest import REPO
from tests.ui.conftest import INDEX_TIMEOUT, open_and_index


def _names(registry) -> dict[str, str]:
    return {m.id: m.name for m in registry.models()}


def test_every_place_uses_the_manifest_name(qtbot, make_window, registry, photos):
    window = make_window()
    names = _names(registry)
    combo = window.model_combo
    assert [combo.itemText(i) for i in range(combo.count())] == list(names.values())
    for i in range(combo.count()):
        info = registry.info(combo.itemData(i))
        assert info.description in combo.itemData(i, Qt.ItemDataRole.ToolTipRole)
    menu = [a for a in window.encoder_menu.actions() if a.data()]
    assert [a.text() for a in menu] == list(names.values())
    assert all(not a.shortcut().isEmpty() for a in menu)  # Ctrl+1, Ctrl+2 …

    open_and_index(qtbot, window, photos)
    with qtbot.waitSignal(window.sorter.orderApplied, timeout=INDEX_TIMEOUT):
        window.sort_like([str(photos / "img003.jpg")])
    assert window.statusBar().currentMessage().endswith(f"({names['pixels-8x8']})")


def test_the_encoder_menu_switches_and_stays_in_step(qtbot, make_window, photos):
    window = make_window()
    open_and_index(qtbot, window, photos)
    action = next(a for a in window.encoder_menu.actions() if a.data() == "max-4x4")
    with qtbot.waitSignal(window.library.indexFinished, timeout=INDEX_TIMEOUT):
        action.trigger()
    assert window.library.model_id == "max-4x4"
    assert window.model_combo.currentData() == "max-4x4"
    assert action.isChecked()


def test_arrow_keys_after_choosing_an_encoder_move_in_the_grid(qtbot, make_window, photos):
    window = make_window()
    open_and_index(qtbot, window, photos)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    combo = window.model_combo
    assert combo.focusPolicy() == Qt.FocusPolicy.NoFocus  # a click never takes the keyboard
    combo.setFocus()  # even if it had the keyboard, choosing gives it back to the grid
    with qtbot.waitSignal(window.library.indexFinished, timeout=INDEX_TIMEOUT):
        qtbot.keyClick(combo, Qt.Key.Key_Down)  # chooses max-4x4
    assert window.library.model_id == "max-4x4"
    assert QApplication.focusWidget() is window.grid
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Down)
    assert window.model_combo.currentData() == "max-4x4"
    assert window.library.model_id == "max-4x4"


def test_a_toolbar_button_gives_the_keyboard_back_to_the_grid(qtbot, make_window, photos):
    window = make_window()
    open_and_index(qtbot, window, photos)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    toolbar = window.findChild(type(window.addToolBar("x")), "mainToolbar")
    window.status.setFocus()
    button = toolbar.widgetForAction(window.sort_similar_action)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert QApplication.focusWidget() is window.grid


def test_a_long_reindex_is_asked_about_first(qtbot, make_window, photos):
    window = make_window()
    open_and_index(qtbot, window, photos)
    # 12 photos at 10 s each (as if measured on a slow machine): two minutes, so it asks.
    window.settings.set_seconds_per_photo("max-4x4", 10.0)
    switch = window.encoder_switch
    with qtbot.waitSignal(switch.questionShown, timeout=INDEX_TIMEOUT) as shown:
        window.choose_model("max-4x4")
    box = shown.args[0]
    assert "12 photos" in box.text() and "about 2 minutes" in box.text()
    assert window.library.model_id == "pixels-8x8"  # nothing switched while asking
    with qtbot.waitSignal(switch.refused):
        switch.keep_button.click()
    assert window.library.model_id == "pixels-8x8"
    assert window.model_combo.currentData() == "pixels-8x8"
    assert window.settings.model_id != "max-4x4"

    with qtbot.waitSignal(switch.questionShown, timeout=INDEX_TIMEOUT) as shown:
        window.choose_model("max-4x4")
    with qtbot.waitSignal(window.library.indexFinished, timeout=INDEX_TIMEOUT) as done:
        switch.index_button.click()
    assert done.args[0].indexed == 12
    assert window.library.model_id == "max-4x4"


def test_a_short_reindex_does_not_ask(qtbot, make_window, photos):
    window = make_window()
    open_and_index(qtbot, window, photos)
    window.settings.set_seconds_per_photo("max-4x4", 1.0)  # 12 s: under a minute
    with qtbot.waitSignal(window.library.indexFinished, timeout=INDEX_TIMEOUT):
        window.choose_model("max-4x4")
    assert window.encoder_switch.question is None


def test_estimates_in_words():
    assert estimate_seconds(3000, 0.02) == 60.0
    assert describe_duration(61) == "about 1 minute"
    assert describe_duration(150) == "about 2 minutes"
    assert describe_duration(4800) == "about 1 hour 20 minutes"


def test_shipped_encoders_have_distinct_names_and_descriptions():
    infos = [load_manifest(p) for p in sorted((REPO / "models").glob("*.json"))]
    names = [i.name for i in infos]
    assert len(set(names)) == len(names)
    # The first words tell them apart (a menu or tooltip may show only the start).
    starts = [" ".join(i.description.split()[:3]) for i in infos]
    assert len(set(starts)) == len(starts), starts
    for path in (REPO / "models").glob("*.json"):
        assert json.loads(path.read_text())["description"]


def test_going_back_to_an_encoder_already_indexed_does_not_ask(qtbot, make_window, photos):
    window = make_window()
    open_and_index(qtbot, window, photos)
    with qtbot.waitSignal(window.library.indexFinished, timeout=INDEX_TIMEOUT):
        window.choose_model("max-4x4")
    window.settings.set_seconds_per_photo("pixels-8x8", 10.0)  # would be 2 minutes for all 12
    with qtbot.waitSignal(window.library.indexFinished, timeout=INDEX_TIMEOUT) as done:
        window.choose_model("pixels-8x8")  # every photo has its latent: nothing to wait for
    assert done.args[0].indexed == 0
    assert window.encoder_switch.question is None
