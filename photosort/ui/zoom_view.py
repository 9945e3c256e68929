"""A photo that can be fitted, zoomed (wheel, + / -), shown 1:1 and panned (drag).

Scene coordinates are the photo's own pixels, whatever the resolution of the pixmap shown:
the preview first shows a screen-sized decode and swaps in the full-resolution one
(`set_pixmap` again) when the user zooms past it, without the view jumping. `detailWanted` says
when that moment has come (a pixmap pixel would cover more than a screen pixel).
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPixmap, QWheelEvent
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QWidget

MIN_ZOOM = 0.02
MAX_ZOOM = 16.0
STEP = 1.25
#: "Fit" never blows a small photo up more than this: pixels, not art.
MAX_FIT_UPSCALE = 2.0


class ZoomableImage(QGraphicsView):
    zoomChanged = Signal(float)  # photo pixels per screen pixel: 1.0 is 1:1
    detailWanted = Signal()  # zoomed past the resolution of the pixmap shown

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.item = QGraphicsPixmapItem()
        self.item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self.item)
        self.setBackgroundBrush(QColor(40, 40, 40))
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        # Drag pans; scroll bars appearing on zoom would change the fit and jolt the photo.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        # The dialog owns the keyboard (arrows browse photos, + / - zoom).
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.fitting = True
        self.original = QSize()

    # -- content ------------------------------------------------------------------------------

    def set_pixmap(self, pixmap: QPixmap, original: QSize) -> None:
        """Show `pixmap`, a decode of a photo of `original` pixels (the same photo again at a
        higher resolution keeps the zoom and the place)."""
        same_photo = original == self.original
        self.original = QSize(original)
        self.item.setPixmap(pixmap)
        self.item.setScale(original.width() / max(pixmap.width(), 1))
        self.scene().setSceneRect(QRectF(0, 0, original.width(), original.height()))
        if self.fitting or not same_photo:
            self.fit()

    def clear(self) -> None:
        self.item.setPixmap(QPixmap())
        self.original = QSize()

    def pixmap_resolution(self) -> float:
        """Pixmap pixels per photo pixel (1.0 once the full resolution is shown)."""
        if self.original.isEmpty():
            return 1.0
        return self.item.pixmap().width() / self.original.width()

    # -- zoom ---------------------------------------------------------------------------------

    def zoom(self) -> float:
        return self.transform().m11()

    def fit_zoom(self) -> float:
        if self.original.isEmpty():
            return 1.0
        vp = self.viewport().size()
        z = min(vp.width() / self.original.width(), vp.height() / self.original.height())
        return max(MIN_ZOOM, min(z, MAX_FIT_UPSCALE))

    def fit(self) -> None:
        self.fitting = True
        self._set_zoom(self.fit_zoom(), centre=True)

    def actual_size(self) -> None:
        """1:1: one photo pixel per device pixel."""
        self.fitting = False
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self._set_zoom(1.0 / self.devicePixelRatioF(), centre=False)

    def zoom_by(self, factor: float, under_mouse: bool = False) -> None:
        self.fitting = False
        self.setTransformationAnchor(
            QGraphicsView.ViewportAnchor.AnchorUnderMouse
            if under_mouse
            else QGraphicsView.ViewportAnchor.AnchorViewCenter
        )
        self._set_zoom(self.zoom() * factor, centre=False)

    def _set_zoom(self, zoom: float, centre: bool) -> None:
        zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
        current = self.zoom()
        if current > 0 and abs(zoom / current - 1.0) > 1e-9:
            self.scale(zoom / current, zoom / current)
        if centre:
            self.centerOn(self.sceneRect().center())
        self.zoomChanged.emit(self.zoom())
        if self.zoom() * self.devicePixelRatioF() > self.pixmap_resolution() * 1.01:
            self.detailWanted.emit()

    # -- events -------------------------------------------------------------------------------

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt API)
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(STEP**steps, under_mouse=True)
        event.accept()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self.fitting:
            self.fit()
