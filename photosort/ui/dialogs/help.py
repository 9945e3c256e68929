"""Help ▸ Using PhotoSort (the guide, shipped with the app) and Help ▸ Keyboard Shortcuts.

The guide is docs/using-the-app.md, read with Qt's own Markdown support, so its pictures and
headings show inside the app, installed or bundled, with no browser. The shortcuts table is
made from the window's real actions (so it cannot drift from the menus) plus the keys of the
grid, the preview and the map.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QKeySequence, QTextCursor, QTextDocument
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMenu,
    QMenuBar,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

#: Keys that belong to a view rather than to a menu entry.
VIEW_KEYS: list[tuple[str, str, str]] = [
    ("Photos", "Move between photos", "Arrow keys, Page Up, Page Down, Home, End"),
    ("Photos", "Select several", "Shift+arrow keys, Ctrl+click, Shift+click"),
    ("Photos", "Preview the current photo", "Space (or double-click)"),
    ("Preview", "Previous / next photo", "Left / Right"),
    ("Preview", "Zoom in / out", "+ / - (or the mouse wheel)"),
    ("Preview", "Actual size (1:1)", "1"),
    ("Preview", "Fit in the window", "0"),
    ("Preview", "Full screen", "F (Esc leaves it)"),
    ("Preview", "Show what the model sees (models that offer it)", "M"),
    ("Preview", "Close", "Esc"),
    ("Map", "Zoom", "Mouse wheel"),
    ("Map", "Pan", "Drag"),
    ("Map", "Select photos in a rectangle", "Shift+drag (Ctrl+Shift+drag adds)"),
    ("Map", "Open a photo", "Double-click"),
    ("Map", "Sort by a photo, fit, arrange", "Right-click"),
]


def plain(text: str) -> str:
    """A menu text without its & mnemonic marks and trailing dots."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").strip()


def shortcut_text(action: QAction) -> str:
    keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts()]
    return ", ".join(k for k in keys if k)


def menu_actions(bar: QMenuBar) -> list[tuple[str, QAction]]:
    """(menu path, action) for every entry of the menu bar, sub-menus included; the recent
    folders (a list of the user's folders, made when the menu opens) are left out."""
    out: list[tuple[str, QAction]] = []

    def walk(menu: QMenu, where: str) -> None:
        for action in menu.actions():
            if action.isSeparator() or not action.isVisible():
                continue
            sub = action.menu()
            if sub is not None:
                if sub.objectName() != "recentMenu":
                    walk(sub, f"{where} ▸ {plain(action.text())}")
                continue
            out.append((where, action))

    for top in bar.actions():
        if top.menu() is not None:
            walk(top.menu(), plain(top.text()))
    return out


def shortcut_rows(bar: QMenuBar) -> list[tuple[str, str, str]]:
    rows = [(where, plain(a.text()), shortcut_text(a)) for where, a in menu_actions(bar)]
    return rows + VIEW_KEYS


class ShortcutsDialog(QDialog):
    def __init__(self, rows: list[tuple[str, str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard Shortcuts")
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["Where", "What", "Keys"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.table.setWordWrap(True)
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(720, 640)

    def rows(self) -> list[tuple[str, str, str]]:
        return [
            tuple(self.table.item(r, c).text() for c in range(3))  # type: ignore[misc]
            for r in range(self.table.rowCount())
        ]


class GuideDialog(QDialog):
    """The user guide, Markdown with its screenshots, in a browser pane."""

    def __init__(self, guide: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Using PhotoSort")
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        self.browser.setSearchPaths([str(guide.parent)])
        self.browser.setSource(
            QUrl.fromLocalFile(str(guide)), QTextDocument.ResourceType.MarkdownResource
        )
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        self.resize(860, 760)
        self.setWindowFlag(Qt.WindowType.WindowMaximizeButtonHint, True)
        self.fit_images(780)

    def fit_images(self, width: int) -> None:
        """Screenshots are 1400 px wide: show them at most `width` px wide, aspect kept."""
        doc = self.browser.document()
        block = doc.begin()
        while block.isValid():
            it = block.begin()
            while not it.atEnd():
                fragment = it.fragment()
                fmt = fragment.charFormat()
                if fragment.isValid() and fmt.isImageFormat():
                    image = fmt.toImageFormat()
                    picture = doc.resource(
                        QTextDocument.ResourceType.ImageResource.value, QUrl(image.name())
                    )
                    if (
                        picture is not None
                        and hasattr(picture, "width")
                        and picture.width() > width
                    ):
                        image.setWidth(width)
                        image.setHeight(picture.height() * width / picture.width())
                        cursor = QTextCursor(doc)
                        cursor.setPosition(fragment.position())
                        cursor.setPosition(
                            fragment.position() + fragment.length(), QTextCursor.MoveMode.KeepAnchor
                        )
                        cursor.setCharFormat(image)
                it += 1
            block = block.next()
