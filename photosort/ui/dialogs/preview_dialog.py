"""Double-click preview: the photo large, its basic EXIF, and what a generative model sees."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image
from PySide6.QtCore import QSize, Qt, QThreadPool
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from photosort.core.decode import load_for_model, open_upright, read_file
from photosort.core.encoders import Encoder
from photosort.ui.desktop import open_with_system, show_in_file_manager
from photosort.ui.photo_model import human_size
from photosort.ui.workers import TaskHandle, run_task

PREVIEW_SIDE = 1400
MAX_UPSCALE = 2

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


@dataclass
class PreviewData:
    image: QImage
    width: int
    height: int
    size: int
    exif: list[tuple[str, str]]
    reconstruction: QImage | None = None
    reconstruction_error: str | None = None


def to_qimage(rgb: np.ndarray | Image.Image) -> QImage:
    arr = np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))
    h, w = arr.shape[:2]
    return QImage(arr.data, w, h, w * 3, QImage.Format.Format_RGB888).copy()


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
        if tag == 33434:
            v = float(value)
            text = f"1/{round(1 / v)} s" if 0 < v < 1 else f"{v:g} s"
        elif tag == 33437:
            text = f"f/{float(value):.1f}"
        elif tag == 37386:
            text = f"{float(value):g} mm"
        else:
            text = str(value).strip("\x00 ")
        out.append((label, text))
    return out


def load_preview(path: str, encoder: Encoder | None) -> PreviewData:
    """Runs on a worker: decode, EXIF, and the model's reconstruction when it has a decoder."""
    data = read_file(path)
    img = open_upright(data, (PREVIEW_SIDE, PREVIEW_SIDE))
    width, height = img.size
    if max(img.size) > PREVIEW_SIDE:
        img.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.BILINEAR)
    result = PreviewData(to_qimage(img), width, height, len(data), read_exif(data))
    if encoder is not None and encoder.info.generative:
        try:
            info = encoder.info
            pixels = load_for_model(data, info.input_size, info.resize)
            latent = encoder.encode(pixels[None])
            result.reconstruction = to_qimage(encoder.decode(latent)[0])
        except Exception as exc:
            result.reconstruction_error = str(exc)
    return result


class PreviewDialog(QDialog):
    def __init__(
        self,
        path: str,
        encoder: Encoder | None,
        pool: QThreadPool,
        parent: QWidget | None = None,
        neighbour: Callable[[str, int], str | None] | None = None,
    ) -> None:
        """`neighbour(path, step)` gives the photo `step` places away in the grid (← / →)."""
        super().__init__(parent)
        self.path = path
        self.encoder = encoder
        self.pool = pool
        self.neighbour = neighbour
        self.resize(1100, 760)
        self.image = QLabel("Loading…")
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setMinimumSize(QSize(320, 240))
        self.image.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.info = QFormLayout()
        side = QVBoxLayout()
        side.addLayout(self.info)
        self.model_title = QLabel()
        self.model_view = QLabel()
        self.model_view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        generative = encoder is not None and encoder.info.generative
        self.model_title.setVisible(generative)
        self.model_view.setVisible(generative)
        if generative and encoder is not None:
            self.model_title.setText(f"<b>What “{encoder.info.name}” sees</b>")
            self.model_view.setText("Encoding…")
        side.addSpacing(12)
        side.addWidget(self.model_title)
        side.addWidget(self.model_view)
        side.addStretch(1)
        panel = QWidget()
        panel.setLayout(side)
        panel.setFixedWidth(300)
        row = QHBoxLayout()
        row.addWidget(self.image, 1)
        row.addWidget(panel)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        viewer = buttons.addButton("Open in viewer", QDialogButtonBox.ButtonRole.ActionRole)
        reveal = buttons.addButton("Show in file manager", QDialogButtonBox.ButtonRole.ActionRole)
        viewer.clicked.connect(lambda: open_with_system(self.path))
        reveal.clicked.connect(lambda: show_in_file_manager(self.path))
        for button in (viewer, reveal, *buttons.buttons()):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # arrow keys browse the photos
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(row, 1)
        layout.addWidget(buttons)
        self._pixmap: QPixmap | None = None
        self.data: PreviewData | None = None
        self._handle: TaskHandle | None = None
        self.show_photo(path)

    def show_photo(self, path: str) -> None:
        """Load `path` on a worker; what an earlier request brings back is dropped."""
        if self._handle is not None:
            self._handle.discard()
        self.path = path
        self.data = None
        self.setWindowTitle(os.path.basename(path))
        encoder = self.encoder
        self._handle = run_task(
            lambda: load_preview(path, encoder), self._loaded, self._failed, pool=self.pool
        )

    def keyPressEvent(self, event) -> None:  # noqa: N802
        step = {Qt.Key.Key_Left: -1, Qt.Key.Key_Right: 1}.get(event.key())
        if step is not None and self.neighbour is not None:
            target = self.neighbour(self.path, step)
            if target is not None:
                self.show_photo(target)
            return
        super().keyPressEvent(event)

    def _loaded(self, data: PreviewData) -> None:
        self.data = data
        self._pixmap = QPixmap.fromImage(data.image)
        self._fit()
        while self.info.rowCount():
            self.info.removeRow(0)
        self.info.addRow("File:", QLabel(os.path.basename(self.path)))
        self.info.addRow("Size:", QLabel(f"{data.width} × {data.height}, {human_size(data.size)}"))
        for label, value in data.exif:
            self.info.addRow(f"{label}:", QLabel(value))
        if data.reconstruction is not None:
            pm = QPixmap.fromImage(data.reconstruction)
            self.model_view.setPixmap(
                pm.scaled(
                    256,
                    256,
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )
        elif data.reconstruction_error:
            self.model_view.setText(data.reconstruction_error)

    def _failed(self, message: str) -> None:
        self.image.setText(f"Cannot show this photo:\n{message}")

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        if self._pixmap is not None:
            # Fit the space, but never blow a small photo up more than twice: pixels, not art.
            limit = self._pixmap.size() * MAX_UPSCALE
            area = self.image.size().boundedTo(limit)
            self.image.setPixmap(
                self._pixmap.scaled(
                    area,
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )

    def done(self, result: int) -> None:
        if self._handle is not None:
            self._handle.discard()
        super().done(result)
