"""What a first start shows instead of an empty grid."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from photosort.ui.icons import action_icon, app_icon


class EmptyState(QWidget):
    openRequested = Signal()
    samplesRequested = Signal()

    def __init__(self, samples_available: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        logo = QLabel()
        logo.setPixmap(app_icon().pixmap(QSize(128, 128)))
        logo.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title = QLabel("<h1>Sort your photos by what they look like</h1>")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        blurb = QLabel(
            "Open a folder: PhotoSort indexes it in the background. Then right-click any photo "
            "and choose <b>Sort by similarity to this</b>."
        )
        blurb.setWordWrap(True)
        blurb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        blurb.setFixedWidth(560)
        blurb.setMinimumHeight(blurb.heightForWidth(560))
        hint = QLabel("You can also drop a folder onto this window.")
        hint.setEnabled(False)
        self.open_button = QPushButton(action_icon("open-folder"), "  Open a folder…")
        self.open_button.setDefault(True)
        self.open_button.clicked.connect(self.openRequested)
        self.samples_button = QPushButton("Try the sample photos")
        self.samples_button.clicked.connect(self.samplesRequested)
        self.samples_button.setVisible(samples_available)
        for b in (self.open_button, self.samples_button):
            b.setMinimumWidth(240)
            b.setMinimumHeight(36)
        for w in (logo, title, blurb, self.open_button, self.samples_button, hint):
            layout.addWidget(w, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(3)
