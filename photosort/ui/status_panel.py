"""The status bar's permanent part: counts, indexing progress with time left, Cancel, zoom."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSlider,
    QToolButton,
    QWidget,
)

from photosort.ui.grid_view import MAX_THUMB, MIN_THUMB
from photosort.ui.icons import action_icon
from photosort.ui.library import IndexProgress


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s left"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s left"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min left"


class StatusPanel(QWidget):
    cancelRequested = Signal()
    skippedClicked = Signal()
    zoomRequested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 4, 0)
        layout.setSpacing(10)
        self.counts = QLabel()
        self.counts.setObjectName("counts")
        self.counts.setTextFormat(Qt.TextFormat.RichText)
        self.counts.linkActivated.connect(lambda _: self.skippedClicked.emit())
        self.progress = QProgressBar()
        self.progress.setFixedWidth(180)
        self.progress.setTextVisible(True)
        self.progress.setFormat("Indexing %v / %m")
        self.time_left = QLabel()
        self.cancel = QToolButton()
        self.cancel.setIcon(action_icon("cancel"))
        self.cancel.setText("Cancel")
        self.cancel.setToolTip("Stop indexing (what is done is kept)")
        self.cancel.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.cancel.setAutoRaise(True)
        self.cancel.clicked.connect(self.cancelRequested)
        self.zoom = QSlider(Qt.Orientation.Horizontal)
        self.zoom.setRange(MIN_THUMB, MAX_THUMB)
        self.zoom.setSingleStep(8)
        self.zoom.setPageStep(24)
        self.zoom.setFixedWidth(120)
        self.zoom.setToolTip("Thumbnail size (Ctrl+= / Ctrl+-)")
        self.zoom.valueChanged.connect(self.zoomRequested)
        for w in (self.counts, self.progress, self.time_left, self.cancel):
            layout.addWidget(w)
        layout.addWidget(QLabel("Size"))
        layout.addWidget(self.zoom)
        self.set_indexing(False)

    def set_indexing(self, running: bool) -> None:
        for w in (self.progress, self.time_left, self.cancel):
            w.setVisible(running)
        if running:
            self.progress.setRange(0, 0)  # busy until the first progress report
            self.time_left.setText("")

    def show_progress(self, p: IndexProgress) -> None:
        self.progress.setRange(0, max(1, p.total))
        self.progress.setValue(min(p.done, p.total))
        self.time_left.setText(format_seconds(p.seconds_left) if p.seconds_left else "")

    def set_counts(self, photos: int, indexed: int, skipped: int) -> None:
        text = f"{photos:,} photos · {indexed:,} indexed"
        if skipped:
            text += f' · <a href="skipped">{skipped:,} skipped</a>'
        self.counts.setText(text)
        self.counts.setToolTip("Click “skipped” to see which files and why" if skipped else "")

    def set_zoom(self, value: int) -> None:
        self.zoom.blockSignals(True)
        self.zoom.setValue(value)
        self.zoom.blockSignals(False)
