"""The right-click menu of a photo in the grid."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtWidgets import QMenu, QWidget

from photosort.ui.icons import action_icon

SORT_THIS = "Sort by similarity to this"
SORT_SELECTED = "Sort by similarity to selected"


@dataclass
class PhotoActions:
    sort_like: Callable[[list[str]], None]
    preview: Callable[[str], None]
    open_viewer: Callable[[str], None]
    reveal: Callable[[str], None]
    copy_paths: Callable[[list[str]], None]
    export_selection: Callable[[], None]


def build_photo_menu(
    parent: QWidget, clicked: str, selected: list[str], actions: PhotoActions
) -> QMenu:
    menu = QMenu(parent)
    this = menu.addAction(action_icon("sort-similar"), SORT_THIS)
    this.triggered.connect(lambda: actions.sort_like([clicked]))
    if len(selected) > 1:
        many = menu.addAction(f"{SORT_SELECTED} ({len(selected)})")
        many.setObjectName("sortSelected")
        many.triggered.connect(lambda: actions.sort_like(list(selected)))
    menu.addSeparator()
    # "\t": the key of the window's own action, shown in the menu's shortcut column.
    menu.addAction("Preview\tSpace").triggered.connect(lambda: actions.preview(clicked))
    menu.addAction("Open in default viewer").triggered.connect(lambda: actions.open_viewer(clicked))
    menu.addAction("Show in file manager").triggered.connect(lambda: actions.reveal(clicked))
    label = "Copy path" if len(selected) <= 1 else f"Copy {len(selected)} paths"
    label += "\tCtrl+C" if clicked in selected else ""  # Ctrl+C copies the selection
    menu.addAction(label).triggered.connect(lambda: actions.copy_paths(selected or [clicked]))
    menu.addSeparator()
    menu.addAction(action_icon("export"), "Export selected…").triggered.connect(
        actions.export_selection
    )
    return menu
