"""The list of files left out of the index, and why."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from photosort.core.files import display_path
from photosort.ui.desktop import copy_text


class SkippedDialog(QDialog):
    def __init__(self, skipped: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Skipped files")
        self.resize(760, 420)
        self.skipped = list(skipped)
        table = QTableWidget(len(skipped), 2)
        table.setHorizontalHeaderLabels(["File", "Why"])
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        for row, (path, reason) in enumerate(skipped):
            table.setItem(row, 0, QTableWidgetItem(display_path(path)))
            table.setItem(row, 1, QTableWidgetItem(reason))
        self.table = table
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = buttons.addButton("Copy list", QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(
            lambda: copy_text("\n".join(f"{display_path(p)}\t{r}" for p, r in self.skipped))
        )
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(f"{len(skipped):,} files could not be read; they are shown last in the grid.")
        )
        layout.addWidget(table)
        layout.addWidget(buttons)
