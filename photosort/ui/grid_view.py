"""The thumbnail grid: a QListView laid out as a wrapping grid of uniform tiles.

List mode with left-to-right flow and wrapping looks like icon mode but lets Qt lay out
uniform items arithmetically, which stays instant for 100,000 photos (icon mode keeps a
position per item). After scrolling settles, only the visible tiles' thumbnails stay queued.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from photosort.ui.photo_delegate import PhotoDelegate
from photosort.ui.photo_model import PhotoModel

MIN_THUMB, MAX_THUMB, THUMB_STEP = 80, 256, 24


class PhotoGrid(QListView):
    contextMenuWanted = Signal(int, QPoint)  # row, global position
    photoActivated = Signal(str)  # path
    zoomChanged = Signal(int)

    def __init__(self, model: PhotoModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.photo_model = model
        self.delegate = PhotoDelegate(model, self)
        self.setModel(model)
        self.setItemDelegate(self.delegate)
        self.setViewMode(QListView.ViewMode.ListMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        # Qt lays out in slices between events: laying out 100,000 rows calls the (Python)
        # model once per row, which in one piece would freeze the window for ~200 ms.
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(2000)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        # Always there, so justifying the columns never toggles it (no relayout loop).
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setMouseTracking(True)
        self.setSpacing(2)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)
        self.activated.connect(lambda idx: self.photoActivated.emit(model.path_at(idx.row())))
        self.setObjectName("photoGrid")
        self._visible_timer = QTimer(self, singleShot=True, interval=60)
        self._visible_timer.timeout.connect(self._prune_thumbnail_queue)
        self.verticalScrollBar().valueChanged.connect(lambda _: self._visible_timer.start())
        model.layoutChanged.connect(lambda *_: self._visible_timer.start())
        model.modelReset.connect(self._visible_timer.start)
        self.set_thumb_size(160)

    # -- zoom ---------------------------------------------------------------------------------

    def thumb_size(self) -> int:
        return self.delegate.thumb

    def set_thumb_size(self, side: int) -> None:
        side = max(MIN_THUMB, min(MAX_THUMB, int(side)))
        self.delegate.set_thumb_size(side)
        self._justify()
        self.setIconSize(QSize(side, side))
        ratio = self.devicePixelRatioF() if self.isVisible() else 1.0
        self.photo_model.thumbnails.set_display_side(round(side * ratio))
        self.doItemsLayout()
        self.zoomChanged.emit(side)

    def _justify(self) -> None:
        """Share the row's spare width among the columns, so the grid fills the view."""
        tile = self.delegate.tile_size()
        base = tile.width() + 2 * self.spacing()
        width = self.viewport().width() - 2 * self.spacing() - 1
        columns = max(1, width // base)
        cell = QSize(max(base, width // columns), tile.height() + 2 * self.spacing())
        if cell != self.gridSize():
            self.delegate.cell_width = cell.width() - 2 * self.spacing()
            self.setGridSize(cell)
            self.doItemsLayout()

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        # Only a shown widget knows its screen's pixel ratio: HiDPI thumbnails stay sharp.
        side = round(self.thumb_size() * self.devicePixelRatioF())
        self.photo_model.thumbnails.set_display_side(side)

    def resizeEvent(self, event) -> None:  # noqa: N802
        self._justify()
        super().resizeEvent(event)

    def zoom(self, steps: int) -> None:
        self.set_thumb_size(self.thumb_size() + steps * THUMB_STEP)

    # -- selection ----------------------------------------------------------------------------

    def selected_rows(self) -> list[int]:
        return sorted(i.row() for i in self.selectionModel().selectedIndexes())

    def selected_paths(self) -> list[str]:
        return [self.photo_model.path_at(r) for r in self.selected_rows()]

    def select_paths(self, paths: list[str], scroll: bool = True) -> None:
        """Select exactly these photos (from the map, say), merging adjacent rows into ranges."""
        rows = sorted(r for r in (self.photo_model.row_of_path(p) for p in paths) if r is not None)
        selection = QItemSelection()
        start = prev = None
        for r in rows + [None]:
            if start is not None and (r is None or r != prev + 1):
                selection.select(self.photo_model.index(start), self.photo_model.index(prev))
                start = None
            if r is not None and start is None:
                start = r
            prev = r
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect
        self.selectionModel().select(selection, flags)
        if rows and scroll:
            self.scrollTo(self.photo_model.index(rows[0]))

    # -- visible-first thumbnails -------------------------------------------------------------

    def visible_rows(self) -> range:
        model = self.photo_model
        if model.rowCount() == 0:
            return range(0)
        vp = self.viewport().rect()
        first = self.indexAt(vp.topLeft() + QPoint(4, 4))
        last = self.indexAt(vp.bottomRight() - QPoint(4, 4))
        lo = first.row() if first.isValid() else 0
        if last.isValid():
            hi = last.row()
        else:
            per_row = max(1, vp.width() // max(1, self.gridSize().width()))
            rows = vp.height() // max(1, self.gridSize().height()) + 1
            hi = min(model.rowCount() - 1, lo + per_row * (rows + 1))
        return range(lo, hi + 1)

    def _prune_thumbnail_queue(self) -> None:
        """Scrolling settled: drop requests for tiles gone by, prefetch the next page."""
        model = self.photo_model
        if model.snapshot is None:
            return
        visible = self.visible_rows()
        after = range(visible.stop, min(model.rowCount(), visible.stop + len(visible)))
        ahead = [model.thumbnail_entry(r) for r in after]
        model.thumbnails.keep_only({model.path_at(r) for r in visible} | {e[0] for e in ahead})
        model.thumbnails.prefetch(ahead)

    def _context_menu(self, pos: QPoint) -> None:
        index = self.indexAt(pos)
        if not index.isValid():
            return
        if not self.selectionModel().isSelected(index):
            self.selectionModel().select(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.NoUpdate)
        self.contextMenuWanted.emit(index.row(), self.viewport().mapToGlobal(pos))
