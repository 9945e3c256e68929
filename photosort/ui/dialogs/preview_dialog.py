"""Double-click preview: the photo large (fit, zoom, 1:1, full screen) and its basic EXIF.

What a generative model "sees" (its reconstruction) is shown only when the user asks for it,
and offered only for models whose manifest says their reconstructions look like the photo
(`ModelInfo.shows_reconstruction`). The photo is first decoded about screen-sized; zooming
past that loads the full resolution on a worker.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image
from PySide6.QtCore import QDateTime, QLocale, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QAction, QImage, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from photosort.core.decode import load_for_model, open_upright, read_file
from photosort.core.encoders import Encoder
from photosort.ui.desktop import open_with_system, show_in_file_manager
from photosort.ui.photo_model import human_size
from photosort.ui.workers import TaskHandle, run_task
from photosort.ui.zoom_view import STEP, ZoomableImage

PREVIEW_SIDE = 1400
PANEL_WIDTH = 300

_EXIF_TAGS = {
    271: "Camera maker",
    272: "Camera model",
    36867: "Taken",
    33434: "Exposure",
    33437: "Aperture",
    34855: "ISO",
    37386: "Focal length",
    42036: "Lens",
}
TAKEN_TAG = 36867
EXIF_DATE_FORMAT = "yyyy:MM:dd HH:mm:ss"


@dataclass
class PreviewData:
    image: QImage
    width: int
    height: int
    size: int
    exif: list[tuple[str, str]]


def to_qimage(rgb: np.ndarray | Image.Image) -> QImage:
    arr = np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))
    h, w = arr.shape[:2]
    return QImage(arr.data, w, h, w * 3, QImage.Format.Format_RGB888).copy()


def format_taken(raw: str, locale: QLocale | None = None) -> str:
    """EXIF's `2015:04:10 20:12:23` as the user's locale writes a date and time."""
    text = raw.strip("\x00 ")
    when = QDateTime.fromString(text[:19], EXIF_DATE_FORMAT)
    if not when.isValid():
        return text
    locale = locale or QLocale()
    return (
        f"{locale.toString(when.date(), QLocale.FormatType.LongFormat)}, "
        f"{locale.toString(when.time(), QLocale.FormatType.ShortFormat)}"
    )


def read_exif(data: bytes) -> list[tuple[str, str]]:
    try:
        exif = Image.open(io.BytesIO(data)).getexif()
        merged = dict(exif)
        merged.update(exif.get_ifd(0x8769))
    except Exception:
        return []
    out = []
    for tag, label in _EXIF_TAGS.items():
        value = merged.get(tag)
        if value is None or value == "":
            continue
        try:
            if tag == 33434:
                v = float(value)
                text = f"1/{round(1 / v)} s" if 0 < v < 1 else f"{v:g} s"
            elif tag == 33437:
                text = f"f/{float(value):.1f}"
            elif tag == 37386:
                mm = float(value)
                text = f"{mm:.0f} mm" if mm >= 10 else f"{mm:.1f} mm"
            elif tag == TAKEN_TAG:
                text = format_taken(str(value))
            else:
                text = str(value).strip("\x00 ")
        except (TypeError, ValueError, ZeroDivisionError):
            text = str(value).strip("\x00 ")
        if text:
            out.append((label, text))
    return out


def breakable(text: str) -> str:
    """`text` with invisible break opportunities after - / _ . , so a long lens name or file
    name wraps in the side panel instead of being cut off."""
    return re.sub(r"([-/_.,])(?=\S)", "\\1\u200b", text)


def load_preview(path: str) -> PreviewData:
    """Runs on a worker: decode about screen-sized, read the EXIF basics."""
    data = read_file(path)
    img = open_upright(data, (PREVIEW_SIDE, PREVIEW_SIDE))
    width, height = img.size
    if max(img.size) > PREVIEW_SIDE:
        img.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.BILINEAR)
    return PreviewData(to_qimage(img), width, height, len(data), read_exif(data))


def load_full(path: str) -> QImage:
    """Runs on a worker: the photo at full resolution, upright."""
    return to_qimage(open_upright(read_file(path)))


def load_reconstruction(path: str, encoder: Encoder) -> QImage:
    """Runs on a worker: encode the photo and decode its latent back to pixels."""
    info = encoder.info
    pixels = load_for_model(read_file(path), info.input_size, info.resize)
    return to_qimage(encoder.decode(encoder.encode(pixels[None]))[0])


class PreviewDialog(QDialog):
    detailLoaded = Signal()  # the full-resolution photo replaced the screen-sized one
    reconstructionShown = Signal()
    messageShown = Signal(str)

    def __init__(
        self,
        path: str,
        encoder: Encoder | None,
        pool: QThreadPool,
        parent: QWidget | None = None,
        neighbour: Callable[[str, int], str | None] | None = None,
        encoder_name: str | None = None,
    ) -> None:
        """`neighbour(path, step)` gives the photo `step` places away in the grid (← / →)."""
        super().__init__(parent)
        self.path = path
        self.encoder = encoder
        self.pool = pool
        self.neighbour = neighbour
        self.resize(1100, 760)
        self.view = ZoomableImage()
        self.view.setMinimumSize(QSize(320, 240))
        self.view.detailWanted.connect(self._load_detail)
        self.view.zoomChanged.connect(self._zoom_changed)
        self.placeholder = QLabel("Loading…", self.view)
        self.placeholder.setStyleSheet("color: white;")

        self._build_actions()
        tools = QHBoxLayout()
        tools.setContentsMargins(0, 0, 0, 0)
        for action in (
            self.fit_action,
            self.actual_action,
            self.zoom_out_action,
            self.zoom_in_action,
        ):
            tools.addWidget(self._tool_button(action))
        self.zoom_label = QLabel("")
        self.zoom_label.setMinimumWidth(48)
        tools.addWidget(self.zoom_label)
        tools.addStretch(1)
        tools.addWidget(self._tool_button(self.full_screen_action))

        self.info = QFormLayout()
        self.info.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        side = QVBoxLayout()
        side.addLayout(self.info)
        self.model_title = QLabel()
        self.model_view = QLabel()
        self.model_view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.model_button: QToolButton | None = None
        offers = encoder is not None and encoder.info.shows_reconstruction
        self.model_title.hide()
        self.model_view.hide()
        if offers and encoder is not None:
            name = encoder_name or encoder.info.name
            self.model_title.setText(f"<b>What “{name}” sees</b>")
            self.model_button = self._tool_button(self.reconstruction_action)
            side.addSpacing(12)
            side.addWidget(self.model_button)
        side.addWidget(self.model_title)
        side.addWidget(self.model_view)
        side.addStretch(1)
        panel = QWidget()
        panel.setLayout(side)
        self.panel = QScrollArea()
        self.panel.setWidget(panel)
        self.panel.setWidgetResizable(True)
        self.panel.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.panel.setFrameShape(QScrollArea.Shape.NoFrame)
        self.panel.setFixedWidth(PANEL_WIDTH)

        row = QHBoxLayout()
        row.addWidget(self.view, 1)
        row.addWidget(self.panel)
        self.message = QLabel()
        self.message.setObjectName("previewMessage")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: palette(highlighted-text); background: #b3261e;"
                                   " padding: 4px 8px; border-radius: 3px;")  # fmt: skip
        self.message.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.viewer_button = buttons.addButton(
            "Open in Viewer", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.reveal_button = buttons.addButton(
            "Show in File Manager", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.viewer_button.clicked.connect(self.open_in_viewer)
        self.reveal_button.clicked.connect(self.show_in_file_manager)
        for button in (self.viewer_button, self.reveal_button, *buttons.buttons()):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # arrow keys browse the photos
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        layout = QVBoxLayout(self)
        layout.addLayout(tools)
        layout.addLayout(row, 1)
        layout.addWidget(self.message)
        layout.addWidget(buttons)

        self.data: PreviewData | None = None
        self.reconstruction: QImage | None = None
        self._handle: TaskHandle | None = None
        self._detail_handle: TaskHandle | None = None
        self._model_handle: TaskHandle | None = None
        self._detail_for: str | None = None
        self.show_photo(path)

    # -- construction -------------------------------------------------------------------------

    def _build_actions(self) -> None:
        def action(text: str, keys: list[str], slot, tip: str) -> QAction:
            act = QAction(text, self)
            act.setShortcuts([QKeySequence(k) for k in keys])
            act.setToolTip(f"{tip} ({' or '.join(keys)})")
            act.triggered.connect(slot)
            self.addAction(act)
            return act

        self.fit_action = action("Fit", ["0"], self.view.fit, "Fit the photo in the window")
        self.actual_action = action(
            "1:1", ["1"], self.view.actual_size, "Actual size: one photo pixel per screen pixel"
        )
        self.zoom_in_action = action(
            "+", ["+", "=", "Ctrl++"], lambda: self.view.zoom_by(STEP), "Zoom in"
        )
        self.zoom_out_action = action(
            "−", ["-", "Ctrl+-"], lambda: self.view.zoom_by(1 / STEP), "Zoom out"
        )
        self.full_screen_action = action(
            "Full Screen", ["F", "F11"], self.toggle_full_screen, "Full screen; Esc leaves it"
        )
        self.full_screen_action.setCheckable(True)
        self.reconstruction_action = QAction("Show What the Model Sees", self)
        self.reconstruction_action.setCheckable(True)
        self.reconstruction_action.setShortcut(QKeySequence("M"))
        self.reconstruction_action.setToolTip(
            "The photo redrawn from the few numbers the encoder keeps (M)"
        )
        self.reconstruction_action.toggled.connect(self.set_reconstruction_visible)
        self.addAction(self.reconstruction_action)

    def _tool_button(self, action: QAction) -> QToolButton:
        button = QToolButton()
        button.setDefaultAction(action)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        return button

    # -- showing a photo ----------------------------------------------------------------------

    def show_photo(self, path: str) -> None:
        """Load `path` on a worker; what an earlier request brings back is dropped."""
        for handle in (self._handle, self._detail_handle, self._model_handle):
            if handle is not None:
                handle.discard()
        self._detail_handle = self._model_handle = None
        self._detail_for = None
        self.path = path
        self.data = None
        self.reconstruction = None
        self.model_view.clear()
        self.message.hide()
        self.setWindowTitle(os.path.basename(path))
        self._handle = run_task(lambda: load_preview(path), self._loaded, self._failed,
                                pool=self.pool)  # fmt: skip
        if self.reconstruction_action.isChecked():
            self._load_reconstruction()

    def _loaded(self, data: PreviewData) -> None:
        self.data = data
        self.placeholder.hide()
        self.view.set_pixmap(QPixmap.fromImage(data.image), QSize(data.width, data.height))
        while self.info.rowCount():
            self.info.removeRow(0)
        self._add_row("File", os.path.basename(self.path))
        self._add_row("Size", f"{data.width} × {data.height}, {human_size(data.size)}")
        for label, value in data.exif:
            self._add_row(label, value)

    def _add_row(self, label: str, value: str) -> None:
        text = QLabel(breakable(value))
        text.setWordWrap(True)
        text.setToolTip(value)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.info.addRow(f"{label}:", text)

    def value_labels(self) -> dict[str, QLabel]:
        """The side panel's values by label ("Lens" …), for tests and the self-test."""
        out = {}
        for row in range(self.info.rowCount()):
            label = self.info.itemAt(row, QFormLayout.ItemRole.LabelRole)
            field = self.info.itemAt(row, QFormLayout.ItemRole.FieldRole)
            if label is not None and field is not None:
                out[label.widget().text().rstrip(":")] = field.widget()
        return out

    def _failed(self, message: str) -> None:
        self.placeholder.setText(f"Cannot show this photo:\n{message}")
        self.placeholder.adjustSize()
        self.placeholder.show()

    def _load_detail(self) -> None:
        data = self.data
        if data is None or self._detail_for == self.path:
            return
        if self.view.pixmap_resolution() >= 1.0:
            return
        path = self._detail_for = self.path

        def done(image: QImage) -> None:
            if path == self.path and self.data is not None:
                self.view.set_pixmap(QPixmap.fromImage(image), QSize(data.width, data.height))
                self.detailLoaded.emit()

        self._detail_handle = run_task(lambda: load_full(path), done, self.show_message,
                                       pool=self.pool)  # fmt: skip

    def _zoom_changed(self, zoom: float) -> None:
        self.zoom_label.setText(f"{zoom * self.devicePixelRatioF() * 100:.0f} %")

    # -- what the model sees ------------------------------------------------------------------

    def set_reconstruction_visible(self, visible: bool) -> None:
        if self.model_button is None:
            return
        self.model_title.setVisible(visible)
        self.model_view.setVisible(visible)
        if visible and self.reconstruction is None:
            self._load_reconstruction()

    def _load_reconstruction(self) -> None:
        encoder, path = self.encoder, self.path
        if encoder is None or not encoder.info.shows_reconstruction:
            return
        self.model_view.setText("Encoding…")

        def done(image: QImage) -> None:
            if path != self.path:
                return
            self.reconstruction = image
            side = PANEL_WIDTH - 40
            box = QSize(side, side)
            data = self.data
            if data is not None and encoder.info.resize == "squash" and data.height > 0:
                # The model saw the photo squashed into a square: show it unsquashed again.
                box = QSize(side, round(side * data.height / data.width))
                if box.height() > side:
                    box = QSize(round(side * data.width / data.height), side)
            pm = QPixmap.fromImage(image).scaled(
                box,
                Qt.AspectRatioMode.IgnoreAspectRatio
                if box.width() != box.height()
                else Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            self.model_view.setPixmap(pm)
            self.reconstructionShown.emit()

        def failed(message: str) -> None:
            if path == self.path:
                self.model_view.setText(message)

        self._model_handle = run_task(lambda: load_reconstruction(path, encoder), done, failed,
                                      pool=self.pool)  # fmt: skip

    # -- hand-offs ----------------------------------------------------------------------------

    def open_in_viewer(self) -> None:
        if not open_with_system(self.path):
            self.show_message(
                "The photo could not be opened in another program: no image viewer is set up "
                "to open it on this computer. Choose a default app for this kind of file in "
                "your system settings, or use Show in File Manager."
            )

    def show_in_file_manager(self) -> None:
        if not show_in_file_manager(self.path):
            self.show_message(
                "No file manager could be started to show this photo. It is here: " + self.path
            )

    def show_message(self, text: str) -> None:
        """A plain message in the window itself (not only in the log)."""
        self.message.setText(text)
        self.message.show()
        self.messageShown.emit(text)

    # -- keys and window ----------------------------------------------------------------------

    def toggle_full_screen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
        else:
            self.showFullScreen()
        self.full_screen_action.setChecked(self.isFullScreen())

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Escape and self.isFullScreen():
            self.toggle_full_screen()  # Esc leaves full screen first, then closes
            return
        step = {Qt.Key.Key_Left: -1, Qt.Key.Key_Right: 1}.get(event.key())
        if step is not None and self.neighbour is not None:
            target = self.neighbour(self.path, step)
            if target is not None:
                self.show_photo(target)
            return
        super().keyPressEvent(event)

    def done(self, result: int) -> None:
        for handle in (self._handle, self._detail_handle, self._model_handle):
            if handle is not None:
                handle.discard()
        super().done(result)
