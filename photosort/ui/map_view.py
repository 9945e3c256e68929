"""The similarity map: every photo of the folder at its place on a 2-D UMAP of the latents.

Built for 50,000 photos: there is no QGraphicsItem per photo. The view paints the whole map
itself in `drawBackground`: the visible points are found with numpy, stamped as dots into one
ARGB image the size of the viewport and drawn in a single call (a few ms for 50,000 points).
At every zoom, photos get a thumbnail where it fits (at least `FIT_THUMB` pixels, larger when
zoomed in): one candidate per thumbnail-sized cell of the screen (the photo nearest the cell's
centre), kept only if it does not overlap a thumbnail already placed; the others stay dots, so
piles never form and at most a few hundred thumbnails are ever drawn. Hovering a photo shows a
larger thumbnail and its name.

Work off the GUI thread: the map job (its own `Store`, `compute_map` with a PCA preview shown
as soon as it exists, then the UMAP refinement) runs through `workers.run_task`; thumbnails
are decoded by a small pool of workers into `QImage`s that the GUI thread turns into pixmaps.
Only thumbnails of what is on screen are asked for; leaving a region drops its pending
requests.

Mouse: wheel zooms under the cursor, drag pans, Shift+drag selects with a rubber band
(Ctrl adds), click selects a photo (Ctrl toggles), double-click opens it, right-click offers
"Sort by similarity to this" (on empty space: Fit and Arrange). Until the user zooms or pans,
the whole map is fitted to the view again whenever the view changes size; the Fit button (and
Ctrl+Shift+M) come back to that. `selectionChanged` is emitted for user actions only.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import shiboken6
from PySide6.QtCore import (
    QObject,
    QPoint,
    QPointF,
    QRect,
    QRectF,
    QRunnable,
    QSize,
    Qt,
    QThreadPool,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QColor,
    QContextMenuEvent,
    QImage,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPen,
    QPixmap,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QRubberBand,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from photosort.core.jobs import CancelToken, Progress
from photosort.core.projection import MapLayout

log = logging.getLogger("photosort.ui.map")

#: Scene units across the map (coordinates in the unit square are scaled to this).
SCENE = 1000.0
MARGIN = 40.0
#: Thumbnail side in scene units: about 40 thumbnails across the whole map.
THUMB_SCENE = SCENE / 40
FIT_THUMB = 44  # px: the thumbnail side at the default (fitted) zoom
MAX_THUMB = 160  # px
HOVER_THUMB = 200  # px: the hover card's thumbnail
#: A selection or highlight larger than this does not force every one of its thumbnails.
MAX_FORCED_THUMBS = 400
THUMB_LOAD_SIDE = HOVER_THUMB  # px decoded; drawn scaled
THUMB_CACHE = 3000  # pixmaps kept in memory
MAX_ZOOM = 400.0  # relative to "whole map fits"
HOVER_RADIUS = 8  # px

DOT = 0xFF8AB4F8
DOT_SELECTED = 0xFFFFA726
DOT_NEIGHBOUR = 0xFFFFEB3B
DOT_REFERENCE = 0xFFFF5252
BACKGROUND = QColor(32, 33, 36)


def _disk(radius: int) -> tuple[np.ndarray, np.ndarray]:
    r = np.arange(-radius, radius + 1)
    dx, dy = np.meshgrid(r, r)
    keep = dx * dx + dy * dy <= radius * radius + radius
    return dx[keep], dy[keep]


#: The dot buffer has this many spare pixels on every side, so stamping needs no bounds checks.
PAD = 8


def stamp(buf: np.ndarray, x: np.ndarray, y: np.ndarray, colour: int, radius: int) -> None:
    """Paint a disk of `colour` at every (x, y) into a uint32 ARGB buffer padded by PAD.

    (x, y) are viewport pixels; points off the buffer are skipped. One flat fancy-index store
    per pixel of the disk: ~1 ms per 10,000 dots.
    """
    h, w = buf.shape
    radius = min(radius, PAD)
    xi = np.rint(x).astype(np.int64) + PAD
    yi = np.rint(y).astype(np.int64) + PAD
    ok = (xi >= radius) & (xi < w - radius) & (yi >= radius) & (yi < h - radius)
    base = yi[ok] * w + xi[ok]
    flat = buf.reshape(-1)
    for ox, oy in zip(*_disk(radius), strict=True):
        flat[base + (oy * w + ox)] = colour


def pick_cells(px: np.ndarray, py: np.ndarray, cell: float) -> np.ndarray:
    """Indices (into px/py) of one point per cell of side `cell`: the nearest to its centre."""
    if len(px) == 0:
        return np.zeros(0, np.int64)
    cx, cy = np.floor(px / cell), np.floor(py / cell)
    d = (px - (cx + 0.5) * cell) ** 2 + (py - (cy + 0.5) * cell) ** 2
    cells = cx.astype(np.int64) * 1_000_003 + cy.astype(np.int64)
    order = np.lexsort((d, cells))
    first = np.ones(len(order), bool)
    first[1:] = cells[order][1:] != cells[order][:-1]
    return order[first]


def non_overlapping(px: np.ndarray, py: np.ndarray, side: float, forced: int = 0) -> list[int]:
    """Indices of the points (in priority order) whose `side`-square, centred on the point,
    overlaps no square kept before it; the first `forced` are kept whatever they overlap.

    A grid of `side`-cells holds what is kept, so each test looks at 9 cells: linear in the
    number of candidates (a few hundred per paint)."""
    kept: list[int] = []
    cells: dict[tuple[int, int], list[int]] = {}
    for i in range(len(px)):
        x, y = float(px[i]), float(py[i])
        cx, cy = int(np.floor(x / side)), int(np.floor(y / side))
        if i >= forced:
            clash = False
            for gx in (cx - 1, cx, cx + 1):
                for gy in (cy - 1, cy, cy + 1):
                    for j in cells.get((gx, gy), ()):
                        if abs(float(px[j]) - x) < side and abs(float(py[j]) - y) < side:
                            clash = True
                            break
                    if clash:
                        break
                if clash:
                    break
            if clash:
                continue
        kept.append(i)
        cells.setdefault((cx, cy), []).append(i)
    return kept


# -- thumbnails ------------------------------------------------------------------------------


def _load_thumbnail(path: str, side: int) -> QImage:
    """Worker side: decode to an upright RGB thumbnail, as a QImage that owns its pixels."""
    from photosort.core.decode import make_thumbnail

    img = make_thumbnail(path, side).convert("RGB")
    w, h = img.size
    data = img.tobytes()
    return QImage(data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class _ThumbLoader(QObject):
    """A wanted-list drained by up to `threads` workers; `want()` replaces what is pending."""

    loaded = Signal(str, QImage)  # a null QImage: the photo cannot be read

    def __init__(self, threads: int = 2, side: int = THUMB_LOAD_SIDE) -> None:
        super().__init__()
        self.side = side
        self.pool = QThreadPool()
        self.pool.setMaxThreadCount(threads)
        self._threads = threads
        self._lock = threading.Lock()
        self._queue: list[str] = []
        self._running = 0
        self._closed = False

    def want(self, paths: Sequence[str]) -> None:
        """Load these (first ones first); anything asked for before and not started is dropped."""
        with self._lock:
            if self._closed:
                return
            self._queue = list(reversed(paths))
            start = min(self._threads - self._running, len(self._queue))
            self._running += start
        for _ in range(start):
            self.pool.start(_Drain(self))

    def _take(self) -> str | None:
        with self._lock:
            if self._queue and not self._closed:
                return self._queue.pop()
            self._running -= 1
            return None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._queue = []
        self.pool.waitForDone(5000)


class _Drain(QRunnable):
    def __init__(self, loader: _ThumbLoader) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self.loader = loader

    def run(self) -> None:
        loader = self.loader
        while (path := loader._take()) is not None:
            try:
                image = _load_thumbnail(path, loader.side)
            except Exception as exc:  # unreadable photo: it stays a dot
                log.info("no map thumbnail for %s: %s", path, exc)
                image = QImage()
            try:
                loader.loaded.emit(path, image)
            except RuntimeError:  # the view went away meanwhile
                return


# -- the map job -----------------------------------------------------------------------------


def _metric_for(model_id: str) -> str:
    from photosort.core.encoders import Registry
    from photosort.core.errors import ModelError

    try:
        return Registry.default().info(model_id).metric
    except ModelError:
        return "euclidean"


def map_job(
    db_path: str,
    folder: str,
    model_id: str,
    metric: str | None,
    cancel: CancelToken,
    refine: bool,
    report,
) -> MapLayout:
    """Worker side: read the latents with this thread's own Store and compute (or read) the map."""
    from photosort.core.projection import compute_map
    from photosort.core.store import Store
    from photosort.ui.map_warmup import wait_for_warm_up

    metric = metric or _metric_for(model_id)
    with Store(db_path) as store:
        paths, vectors = store.latents_under(folder, model_id)
        return compute_map(
            store,
            model_id,
            paths,
            vectors,
            metric,
            scope=folder,
            refine=refine,
            preview=report,
            progress=report,
            cancel=cancel,
            before_fit=lambda: wait_for_warm_up(cancel),
        )


# -- the view ----------------------------------------------------------------------------------


class _Canvas(QGraphicsView):
    """The zoomable, pannable surface; MapView owns the data and the signals."""

    def __init__(self, owner: MapView) -> None:
        super().__init__(owner)
        self.owner = owner
        self.setScene(QGraphicsScene(self))
        # Much larger than the map: centring on any point (a fit to the photos' bounding box)
        # is never pushed back by the edge of the scene.
        self.scene().setSceneRect(-SCENE, -SCENE, 3 * SCENE, 3 * SCENE)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setMouseTracking(True)
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self._press: QPoint | None = None
        self._panning = False
        self._band: QRubberBand | None = None
        self._band_origin = QPoint()
        self._band_extend = False
        self._hover = -1
        #: True until the user zooms or pans: then a resize fits the whole map again.
        self.fitted = True
        self._relative_zoom = 1.0
        self._fit_zoom = 1.0  # the zoom of the last fit, relative to fit_scale()

    # zoom ---------------------------------------------------------------------------------

    def fit_scale(self) -> float:
        vp = self.viewport().size()
        span = SCENE + 2 * MARGIN
        return max(min(vp.width(), vp.height()) / span, 1e-6)

    def zoom(self) -> float:
        """Scale relative to the whole map fitting the view."""
        return self.transform().m11() / self.fit_scale()

    def fit_all(self) -> None:
        """Every photo in view, as large as the view allows (the photos' bounding box, plus
        room for half a thumbnail, rather than the whole unit square)."""
        self.fitted = True
        self.resetTransform()
        base = self.fit_scale()
        box = self.owner.bounds()
        if box is None:
            self._relative_zoom = self._fit_zoom = 1.0
            self.scale(base, base)
            self.centerOn(SCENE / 2, SCENE / 2)
            return
        vp = self.viewport().size()
        room = FIT_THUMB  # px kept free around the photos: edge thumbnails are not cut off
        w = max(vp.width() - 2 * room, 1) / max(box.width(), 1e-6)
        h = max(vp.height() - 2 * room, 1) / max(box.height(), 1e-6)
        s = min(max(min(w, h), base / 4), base * MAX_ZOOM / 4)
        self._relative_zoom = self._fit_zoom = s / base
        self.scale(s, s)
        self.centerOn(box.center())

    def zoom_by(self, factor: float, under_mouse: bool = False) -> None:
        """Zoom about the view's centre (or the point under the mouse), within limits."""
        least = min(1.0, self._fit_zoom)  # out to the whole map, however it was fitted
        target = min(max(self.zoom() * factor, least), MAX_ZOOM)
        factor = target / self.zoom()
        self.fitted = target <= least + 1e-9 and self.fitted
        self._relative_zoom = target
        self.setTransformationAnchor(
            QGraphicsView.ViewportAnchor.AnchorUnderMouse
            if under_mouse
            else QGraphicsView.ViewportAnchor.AnchorViewCenter
        )
        if abs(factor - 1.0) > 1e-9:
            self.scale(factor, factor)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt API)
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(1.25**steps, under_mouse=True)
        event.accept()

    def resizeEvent(self, event) -> None:  # noqa: N802
        # Untouched by the user: the whole map fits the new size (nothing cut off at the
        # right when the window or the panel grows or shrinks). Zoomed in: same zoom, same
        # centre.
        # (The viewport has its new size already: the zoom to keep is the one last set.)
        old = event.oldSize()
        centre = self.mapToScene(QRect(QPoint(0, 0), old).center()) if old.isValid() else None
        super().resizeEvent(event)
        if self.fitted:
            self.fit_all()
            return
        keep = self._relative_zoom
        self.resetTransform()
        s = self.fit_scale() * max(keep, 1.0)
        self.scale(s, s)
        if centre is not None:
            self.centerOn(centre)

    # painting -----------------------------------------------------------------------------

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        painter.fillRect(rect, BACKGROUND)
        self.owner._paint(painter, self.viewport().size())

    # mouse --------------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            mods = event.modifiers()
            if mods & Qt.KeyboardModifier.ShiftModifier:
                self._band_origin = event.position().toPoint()
                self._band_extend = bool(mods & Qt.KeyboardModifier.ControlModifier)
                if self._band is None:
                    self._band = QRubberBand(QRubberBand.Shape.Rectangle, self.viewport())
                self._band.setGeometry(QRect(self._band_origin, QSize()))
                self._band.show()
            else:
                self._press = event.position().toPoint()
                self._panning = False
            self.owner._hover_changed(-1, QPoint())
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position().toPoint()
        if self._band is not None and self._band.isVisible():
            self._band.setGeometry(QRect(self._band_origin, pos).normalized())
        elif self._press is not None:
            delta = pos - self._press
            if self._panning or delta.manhattanLength() > 3:
                self._panning = True
                self.setCursor(Qt.CursorShape.ClosedHandCursor)
                self._pan(delta)
                self._press = pos
        else:
            self._update_hover(pos, event.globalPosition().toPoint())
        event.accept()

    def _pan(self, delta: QPoint) -> None:
        self.fitted = False
        # Scroll bars are hidden but still move the view; translate the centre otherwise.
        centre = self.mapToScene(self.viewport().rect().center())
        s = self.transform().m11()
        self.centerOn(centre.x() - delta.x() / s, centre.y() - delta.y() / s)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position().toPoint()
        if self._band is not None and self._band.isVisible():
            self._band.hide()
            rect = QRect(self._band_origin, pos).normalized()
            self.owner._select_in_rect(self.mapToScene(rect).boundingRect(), self._band_extend)
        elif self._press is not None:
            if not self._panning and event.button() == Qt.MouseButton.LeftButton:
                toggle = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
                self.owner._click(self.owner._point_at(pos), toggle)
            self._press = None
            self._panning = False
            self.unsetCursor()
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        index = self.owner._point_at(event.position().toPoint())
        if index >= 0:
            self.owner.activated.emit(self.owner._paths[index])
        event.accept()

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802
        self.owner._hover_changed(-1, QPoint())
        menu = self.owner.context_menu(event.pos())
        menu.exec(event.globalPos())
        event.accept()

    def _update_hover(self, pos: QPoint, global_pos: QPoint) -> None:
        index = self.owner._point_at(pos)
        if index == self._hover:
            if index >= 0:
                self.owner._hover_changed(index, pos)  # the card follows the mouse
            return
        self._hover = index
        self.owner._hover_changed(index, pos)

    def leaveEvent(self, event) -> None:  # noqa: N802
        self._hover = -1
        self.owner._hover_changed(-1, QPoint())
        super().leaveEvent(event)


class HoverCard(QFrame):
    """A larger thumbnail and the name of the photo under the mouse."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("mapHoverCard")
        self.setFrameShape(QFrame.Shape.Box)
        self.setStyleSheet(
            "#mapHoverCard { background: #202124; border: 1px solid #9aa0a6; }"
            " QLabel { color: #e8eaed; }"
        )
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.image = QLabel(self)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setFixedSize(HOVER_THUMB, HOVER_THUMB)
        self.name = QLabel(self)
        self.name.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.name.setWordWrap(True)
        self.name.setMaximumWidth(HOVER_THUMB)
        box = QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.setSpacing(2)
        box.addWidget(self.image)
        box.addWidget(self.name)
        self.path = ""
        self.hide()

    def show_for(self, path: str, pixmap: QPixmap | None, pos: QPoint) -> None:
        if path != self.path:
            self.path = path
            self.name.setText(os.path.basename(path))
            self.set_pixmap(pixmap)
        self.adjustSize()
        self._place(pos)
        self.show()
        self.raise_()

    def set_pixmap(self, pixmap: QPixmap | None) -> None:
        if pixmap is None or pixmap.isNull():
            self.image.clear()
            self.image.setText("…")
            return
        self.image.setPixmap(
            pixmap.scaled(
                HOVER_THUMB,
                HOVER_THUMB,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )

    def _place(self, pos: QPoint) -> None:
        """Beside the mouse, inside the view, never under the pointer."""
        area = self.parentWidget().rect()
        x, y = pos.x() + 16, pos.y() + 16
        if x + self.width() > area.right():
            x = pos.x() - 16 - self.width()
        if y + self.height() > area.bottom():
            y = pos.y() - 16 - self.height()
        self.move(max(0, x), max(0, y))

    def dismiss(self) -> None:
        self.path = ""
        self.hide()


class MapView(QWidget):
    """The map of a folder for one encoder; see the module docstring."""

    selectionChanged = Signal(list)  # paths; user actions only
    sortRequested = Signal(list)  # paths to sort by (right-click)
    activated = Signal(str)  # a photo double-clicked or "Open"
    arrangeRequested = Signal()  # "Arrange by Similarity" from the menu on empty space
    mapReady = Signal()  # a (preview or final) map is on screen
    thumbnailShown = Signal(str)  # the hover card got its thumbnail

    def __init__(self, parent: QWidget | None = None, *, refine: bool = True) -> None:
        super().__init__(parent)
        #: False: stop at the PCA layout (tests, very weak machines).
        self.refine = refine
        self.layout_: MapLayout | None = None
        self._paths: list[str] = []
        self._row: dict[str, int] = {}
        self._pos = np.zeros((0, 2), np.float64)  # scene coordinates
        self._selected = np.zeros(0, bool)
        self._references = np.zeros(0, np.int64)
        self._neighbours = np.zeros(0, np.int64)
        self._highlight_paths: tuple[list[str], list[str]] = ([], [])
        self._pixmaps: OrderedDict[str, QPixmap] = OrderedDict()
        self._failed: set[str] = set()
        self._wanted: tuple[str, ...] = ()
        self._current: tuple[str, str, str] | None = None
        self._task = None
        self._cancel: CancelToken | None = None
        self._closed = False
        #: The thumbnails drawn by the last paint, (row, viewport rect), topmost last.
        self._drawn: list[tuple[int, QRectF]] = []
        #: Offer "Arrange by Similarity" on empty space (the window knows if it can).
        self.offer_arrange = True

        self.canvas = _Canvas(self)
        self.card = HoverCard(self.canvas.viewport())
        self.fit_action = QAction("Fit the Whole Map", self)
        self.fit_action.setShortcut(QKeySequence("Ctrl+Shift+M"))
        self.fit_action.setToolTip("Show the whole map (Ctrl+Shift+M)")
        self.fit_action.triggered.connect(self.fit)
        self.addAction(self.fit_action)
        fit_button = QToolButton(self)
        fit_button.setObjectName("mapFit")
        fit_button.setDefaultAction(self.fit_action)
        fit_button.setText("Fit")
        fit_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.status = QLabel(self)
        self.status.setObjectName("mapStatus")
        self.progress = QProgressBar(self)
        self.progress.setTextVisible(True)
        self.progress.setMaximumHeight(16)
        self.progress.hide()
        self.hint = QLabel("Wheel: zoom · Drag: pan · Shift+drag: select", self)
        self.hint.setToolTip(
            "Wheel: zoom · Drag: pan · Shift+drag: select · Click: select · "
            "Double-click: open · Right-click: sort by a photo, or fit and arrange"
        )
        self.hint.setObjectName("mapHint")
        self.hint.setStyleSheet("color: palette(mid);")
        self.hint.setWordWrap(True)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addWidget(self.progress)
        box.addWidget(self.canvas, 1)
        row = QHBoxLayout()
        row.setContentsMargins(2, 0, 2, 0)
        row.addWidget(self.status, 1)
        row.addWidget(fit_button)
        box.addLayout(row)
        box.addWidget(self.hint)

        self.thumbs = _ThumbLoader()
        self.thumbs.loaded.connect(self._thumbnail_loaded)
        self._repaint = QTimer(self)
        self._repaint.setSingleShot(True)
        self._repaint.setInterval(30)
        self._repaint.timeout.connect(self.canvas.viewport().update)
        self._show_status("No folder")

    # -- the contract with the main window --------------------------------------------------

    def load(
        self,
        db_path: str | os.PathLike[str],
        folder: str,
        model_id: str,
        metric: str | None = None,
    ) -> None:
        """Show the map of `folder` for `model_id`: cached maps at once, else PCA then UMAP.

        The store is opened by the worker; a map being computed for another load is cancelled.
        Reloading the same folder keeps the current map on screen until the new one is ready.
        """
        from photosort.ui.workers import run_task

        key = (str(db_path), os.path.abspath(folder), model_id)
        if self._cancel is not None:
            self._cancel.cancel()
        if self._task is not None:
            self._task.discard()
        if key[1:] != (self._current[1:] if self._current else None):
            self._set_layout(None)
        self._current = key
        cancel = CancelToken()
        self._cancel = cancel
        refine = self.refine
        self.progress.setRange(0, 0)
        self.progress.setFormat("Reading the map…")
        self.progress.show()

        def job(report):
            return map_job(key[0], key[1], model_id, metric, cancel, refine, report)

        self._task = run_task(
            job,
            self._if_alive(self._job_done),
            self._if_alive(self._job_failed),
            on_progress=self._if_alive(self._job_progress),
            on_cancelled=lambda: None,
        )

    def _if_alive(self, method):
        """A callback that does nothing once the widget is deleted or shut down."""

        def call(value: object) -> None:
            if shiboken6.isValid(self) and not self._closed:
                method(value)

        return call

    def set_selected_paths(self, paths: list[str]) -> None:
        """Select these photos (from the grid); emits nothing."""
        selected = np.zeros(len(self._paths), bool)
        rows = [self._row[p] for p in paths if p in self._row]
        selected[rows] = True
        self._selected = selected
        if len(rows) == 1:
            self._ensure_visible(rows[0])
        self.canvas.viewport().update()

    def set_highlight(self, references: list[str], neighbours: list[str]) -> None:
        """Mark the reference photos of a sort and their nearest neighbours."""
        self._references = np.array([self._row[p] for p in references if p in self._row], np.int64)
        self._neighbours = np.array([self._row[p] for p in neighbours if p in self._row], np.int64)
        self._highlight_paths = (list(references), list(neighbours))
        self.canvas.viewport().update()

    def selected_paths(self) -> list[str]:
        return [self._paths[i] for i in np.flatnonzero(self._selected)]

    def bounds(self) -> QRectF | None:
        """The photos' bounding box in scene units (None: no photos)."""
        if len(self._pos) == 0:
            return None
        lo, hi = self._pos.min(axis=0), self._pos.max(axis=0)
        return QRectF(float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1]))

    def fit(self) -> None:
        """Show the whole map (the Fit button); it then follows the view's size again."""
        self.canvas.fit_all()
        self.canvas.viewport().update()

    def hovered_path(self) -> str | None:
        return self.card.path if self.card.isVisible() else None

    def shutdown(self) -> None:
        """Stop background work (the window calls this on close; also run on deletion)."""
        self._closed = True
        if self._cancel is not None:
            self._cancel.cancel()
        if self._task is not None:
            self._task.discard()
        self.thumbs.close()

    def closeEvent(self, event) -> None:  # noqa: N802
        self.shutdown()
        super().closeEvent(event)

    # -- job results ------------------------------------------------------------------------

    def _job_progress(self, value: object) -> None:
        if isinstance(value, MapLayout):  # the PCA preview
            self._set_layout(value)
            self.progress.setFormat("Refining the map (UMAP)…")
        elif isinstance(value, Progress):
            self.progress.setRange(0, max(value.total, 1))
            self.progress.setValue(value.done)
            if value.current:
                # e.g. "Preparing the map (first time only, about a minute)…"
                self.progress.setFormat(f"{value.current[:1].upper()}{value.current[1:]}…")

    def _job_done(self, layout: MapLayout) -> None:
        self._task = None
        self.progress.hide()
        if self._closed:
            return
        self._set_layout(layout)

    def _job_failed(self, message: str) -> None:
        self._task = None
        self.progress.hide()
        self._show_status(f"The map is not available: {message}")

    # -- data -------------------------------------------------------------------------------

    def show_layout(self, layout: MapLayout | None) -> None:
        """Show a computed layout directly (also used by tests and benchmarks)."""
        self._set_layout(layout)

    def _set_layout(self, layout: MapLayout | None) -> None:
        old_paths = self._paths
        old_selected = set(self.selected_paths()) if len(self._selected) else set()
        refs, neighbours = self._highlight_paths
        self.layout_ = layout
        self._drawn = []
        self.card.dismiss()
        if layout is None or len(layout) == 0:
            self._paths, self._row = [], {}
            self._pos = np.zeros((0, 2))
        else:
            self._paths = list(layout.paths)
            self._row = {p: i for i, p in enumerate(self._paths)}
            self._pos = np.asarray(layout.coords, np.float64) * SCENE
        self._selected = np.array([p in old_selected for p in self._paths], bool)
        self._references = np.array([self._row[p] for p in refs if p in self._row], np.int64)
        self._neighbours = np.array([self._row[p] for p in neighbours if p in self._row], np.int64)
        if self._paths != old_paths or not old_paths:
            keep = set(self._paths)
            for p in [p for p in self._pixmaps if p not in keep]:
                del self._pixmaps[p]
        if layout is None:
            self._show_status("Computing the map…" if self._current else "No folder")
        elif len(layout) == 0:
            self._show_status("No photos indexed for this model in this folder yet")
        else:
            how = {"pca": "quick layout (PCA)", "umap": "UMAP"}.get(layout.method, layout.method)
            note = ", from the cache" if layout.from_cache else ""
            if layout.placed:
                note += f", {layout.placed} new placed"
            self._show_status(f"{len(layout):,} photos · {how}{note}")
        if not old_paths or layout is None or self.canvas.fitted:
            self.canvas.fit_all()  # a new map, or one the user has not zoomed into
        self.canvas.viewport().update()
        if layout is not None:
            self.mapReady.emit()

    def _show_status(self, text: str) -> None:
        self.status.setText(text)

    # -- geometry ---------------------------------------------------------------------------

    def _device(self) -> tuple[float, float, float]:
        """Scale and offset from scene to viewport pixels (no rotation, same scale on x/y)."""
        t = self.canvas.viewportTransform()
        return t.m11(), t.dx(), t.dy()

    def device_positions(self) -> np.ndarray:
        s, dx, dy = self._device()
        return self._pos * s + np.array([dx, dy])

    def _point_at(self, pos: QPoint, radius: float = HOVER_RADIUS) -> int:
        if len(self._pos) == 0:
            return -1
        for row, rect in reversed(self._drawn):  # a thumbnail on screen: the photo it shows
            if rect.contains(QPointF(pos)) and row < len(self._paths):
                return row
        dev = self.device_positions()
        d = (dev[:, 0] - pos.x()) ** 2 + (dev[:, 1] - pos.y()) ** 2
        i = int(np.argmin(d))
        reach = max(radius, self._thumb_side() / 2)
        return i if d[i] <= reach * reach else -1

    def _thumb_side(self) -> float:
        return THUMB_SCENE * self._device()[0]

    def _ensure_visible(self, row: int) -> None:
        x, y = self._pos[row]
        visible = self.canvas.mapToScene(self.canvas.viewport().rect()).boundingRect()
        if not visible.contains(QPointF(x, y)):
            self.canvas.centerOn(x, y)

    def zoom_to(self, path: str, zoom: float) -> None:
        """Centre on a photo at `zoom` times the whole-map scale."""
        self.canvas.fit_all()
        self.canvas.zoom_by(zoom)
        x, y = self._pos[self._row[path]]
        self.canvas.centerOn(x, y)

    # -- selection --------------------------------------------------------------------------

    def _emit_selection(self) -> None:
        self.canvas.viewport().update()
        self.selectionChanged.emit(self.selected_paths())

    def _click(self, index: int, toggle: bool) -> None:
        if index < 0:
            if toggle or not self._selected.any():
                return
            self._selected[:] = False
        elif toggle:
            self._selected[index] = not self._selected[index]
        else:
            self._selected[:] = False
            self._selected[index] = True
        self._emit_selection()

    def _select_in_rect(self, rect: QRectF, extend: bool) -> None:
        if len(self._pos) == 0:
            return
        x, y = self._pos[:, 0], self._pos[:, 1]
        inside = (x >= rect.left()) & (x <= rect.right()) & (y >= rect.top()) & (y <= rect.bottom())
        self._selected = (self._selected | inside) if extend else inside
        self._emit_selection()

    def context_menu(self, pos: QPoint) -> QMenu:
        """The right-click menu for the photo at `pos`, or for the map (empty space)."""
        index = self._point_at(pos)
        if index < 0:
            menu = QMenu(self)
            menu.addAction(self.fit_action)
            if self.offer_arrange and len(self._paths):
                arrange = QAction("Arrange by Similarity", menu)
                arrange.setToolTip("Order the whole folder so that neighbours look alike")
                arrange.triggered.connect(self.arrangeRequested)
                menu.addAction(arrange)
            return menu
        path = self._paths[index]
        refs = self.selected_paths() if self._selected[index] else [path]
        menu = QMenu(self)
        label = (
            "Sort by similarity to this"
            if len(refs) == 1
            else (f"Sort by similarity to these {len(refs)}")
        )
        sort = QAction(label, menu)
        sort.triggered.connect(lambda: self.sortRequested.emit(list(refs)))
        menu.addAction(sort)
        open_ = QAction("Open", menu)
        open_.triggered.connect(lambda: self.activated.emit(path))
        menu.addAction(open_)
        return menu

    # -- painting ---------------------------------------------------------------------------

    def _paint(self, painter: QPainter, size: QSize) -> None:
        if len(self._pos) == 0:
            return
        dpr = self.canvas.devicePixelRatioF()
        w, h = int(size.width() * dpr), int(size.height() * dpr)
        if w <= 0 or h <= 0:
            return
        dev = self.device_positions()
        side = min(max(self._thumb_side(), FIT_THUMB), MAX_THUMB)
        pad = max(side, 8)
        vis = np.flatnonzero(
            (dev[:, 0] > -pad)
            & (dev[:, 0] < size.width() + pad)
            & (dev[:, 1] > -pad)
            & (dev[:, 1] < size.height() + pad)
        )
        buf = np.zeros((h + 2 * PAD, w + 2 * PAD), np.uint32)
        radius = max(1, round((2 if len(vis) < 20_000 else 1) * dpr))
        px, py = dev[vis, 0] * dpr, dev[vis, 1] * dpr
        stamp(buf, px, py, DOT, radius)
        sel = vis[self._selected[vis]] if len(self._selected) else vis[:0]
        for rows, colour, extra in (
            (sel, DOT_SELECTED, 1),
            (np.intersect1d(self._neighbours, vis), DOT_NEIGHBOUR, 1),
            (np.intersect1d(self._references, vis), DOT_REFERENCE, 2),
        ):
            if len(rows):
                stamp(buf, dev[rows, 0] * dpr, dev[rows, 1] * dpr, colour, radius + extra)
        # The visible part starts PAD rows and PAD columns in; rows keep the padded stride.
        inner = buf.reshape(-1)[PAD * buf.shape[1] + PAD :]
        image = QImage(
            inner.data, w, h, 4 * buf.shape[1], QImage.Format.Format_ARGB32_Premultiplied
        )
        image.setDevicePixelRatio(dpr)
        painter.save()
        painter.resetTransform()
        painter.drawImage(0, 0, image)
        if len(vis):
            self._paint_thumbnails(painter, dev, vis, side)
        else:
            self._drawn = []
            if self._wanted:
                self._wanted = ()
                self.thumbs.want([])
        painter.restore()
        del buf

    def _paint_thumbnails(
        self, painter: QPainter, dev: np.ndarray, vis: np.ndarray, side: float
    ) -> None:
        picked = vis[pick_cells(dev[vis, 0], dev[vis, 1], side)]
        # Priority: the references (always a thumbnail), then selected photos and neighbours,
        # then one photo per cell. Where thumbnails would overlap, only the first keeps one;
        # the others stay dots (in their highlight colour). Unreadable photos take no room.
        on_screen = np.zeros(len(self._paths), bool)
        on_screen[vis] = True
        extra: list[int] = []
        for group in (np.flatnonzero(self._selected), self._neighbours, self._references):
            extra.extend(int(r) for r in group if on_screen[r])
        extra = list(dict.fromkeys(reversed(extra)))[::-1][-MAX_FORCED_THUMBS:]
        refs_here = sum(1 for r in self._references.tolist() if on_screen[r])
        others = [int(r) for r in np.setdiff1d(picked, extra) if self._paths[r] not in self._failed]
        order = np.asarray(extra[::-1] + others, np.int64)
        kept = set(
            order[non_overlapping(dev[order, 0], dev[order, 1], side, forced=refs_here)].tolist()
        )
        # Drawn last on top: highlighted ones, the references at the very end.
        rows = np.asarray(
            [r for r in others if r in kept] + [r for r in extra if r in kept], np.int64
        )
        missing = []
        drawn: list[tuple[int, QRectF]] = []
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        refs, neigh = set(self._references.tolist()), set(self._neighbours.tolist())
        for row in rows.tolist():
            path = self._paths[row]
            pm = self._pixmaps.get(path)
            if pm is None:
                if path not in self._failed:
                    missing.append(path)
                continue
            self._pixmaps.move_to_end(path)
            pw, ph = pm.width(), pm.height()
            k = side / max(pw, ph, 1)
            tw, th = pw * k, ph * k
            target = QRectF(dev[row, 0] - tw / 2, dev[row, 1] - th / 2, tw, th)
            painter.drawPixmap(target, pm, QRectF(pm.rect()))
            drawn.append((row, target))
            colour = None
            if row in refs:
                colour = QColor(DOT_REFERENCE)
            elif self._selected[row]:
                colour = QColor(DOT_SELECTED)
            elif row in neigh:
                colour = QColor(DOT_NEIGHBOUR)
            painter.setPen(QPen(colour, 3) if colour else QPen(QColor(230, 230, 230), 1))
            painter.drawRect(target)
        self._drawn = drawn
        hover = self.card.path if self.card.isVisible() else ""
        if hover and hover not in self._pixmaps and hover not in self._failed:
            missing.insert(0, hover)
        wanted = tuple(dict.fromkeys(missing))
        if wanted != self._wanted:
            self._wanted = wanted
            self.thumbs.want(list(wanted))

    def _hover_changed(self, row: int, pos: QPoint) -> None:
        if row < 0 or row >= len(self._paths):
            self.card.dismiss()
            return
        path = self._paths[row]
        known = path in self._pixmaps
        self.card.show_for(path, self._pixmaps.get(path), pos)
        if not known and path not in self._failed and path not in self._wanted:
            self._wanted = (path, *self._wanted)
            self.thumbs.want(list(self._wanted))

    def _thumbnail_loaded(self, path: str, image: QImage) -> None:
        if self._closed:
            return
        if image.isNull():
            self._failed.add(path)
            if path == self.card.path:
                self.card.image.setText("This photo cannot be read")
            return
        if path not in self._row:
            return
        self._pixmaps[path] = QPixmap.fromImage(image)
        while len(self._pixmaps) > THUMB_CACHE:
            self._pixmaps.popitem(last=False)
        if path == self.card.path:
            self.card.set_pixmap(self._pixmaps[path])
            self.thumbnailShown.emit(path)
        if not self._repaint.isActive():
            self._repaint.start()
