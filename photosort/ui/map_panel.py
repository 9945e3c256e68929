"""Optional map dock: `photosort.ui.map_view.MapView` (UMAP of the latents) beside the grid.

The map is another engineer's module; the app works without it, so everything here is
guarded by `find_spec` and a failed import only hides the map.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QDockWidget, QMainWindow, QWidget

log = logging.getLogger("photosort.ui.map")

NEIGHBOURS = 24


def map_view_class() -> type[QWidget] | None:
    try:
        if importlib.util.find_spec("photosort.ui.map_view") is None:
            return None
        return importlib.import_module("photosort.ui.map_view").MapView
    except Exception:  # a broken optional module must not stop the app
        log.exception("the map view cannot be loaded")
        return None


class MapPanel(QObject):
    """Owns the dock and keeps selection and highlights in step with the grid."""

    selectionChanged = Signal(list)
    sortRequested = Signal(list)
    activated = Signal(str)
    arrangeRequested = Signal()

    def __init__(self, window: QMainWindow, view_class: type[QWidget]) -> None:
        super().__init__(window)
        self.view = view_class()
        self.dock = QDockWidget("Map", window)
        self.dock.setObjectName("mapDock")
        self.dock.setWidget(self.view)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.dock.hide()
        self._syncing = False
        self._sized = False
        self._window = window
        self._pending: tuple[str, str, str] | None = None
        self._loaded: tuple[str, str, str] | None = None
        self.view.selectionChanged.connect(self._map_selected)
        self.view.sortRequested.connect(self.sortRequested)
        self.view.activated.connect(self.activated)
        if hasattr(self.view, "arrangeRequested"):
            self.view.arrangeRequested.connect(self.arrangeRequested)
        self.dock.visibilityChanged.connect(self._maybe_load)

    def toggle_action(self):
        action = self.dock.toggleViewAction()
        action.setText("Map")
        action.setShortcut("Ctrl+M")
        return action

    def load(self, db_path: str, folder: str, model_id: str) -> None:
        """Load lazily: the UMAP is computed only when the map is visible."""
        self._pending = (db_path, folder, model_id)
        self._maybe_load()

    def reload(self, db_path: str, folder: str, model_id: str) -> None:
        """New latents (indexing finished): recompute the map even for the same folder."""
        self._loaded = None
        self.load(db_path, folder, model_id)

    def _maybe_load(self, *_: object) -> None:
        if self.dock.isVisible() and not self._sized and not self.dock.isFloating():
            self._sized = True  # first time shown: about a third of the window, not half
            width = max(320, self._window.width() // 3)
            self._window.resizeDocks([self.dock], [width], Qt.Orientation.Horizontal)
        if self._pending is None or not self.dock.isVisible() or self._pending == self._loaded:
            return
        try:
            self.view.load(*self._pending)
            self._loaded = self._pending
        except Exception as exc:
            log.exception("map load failed")
            self.dock.setWindowTitle(f"Map (unavailable: {exc})")

    def shutdown(self) -> None:
        """Cancel the map being computed (the app is closing): the view is a child of the
        window and gets no close event of its own."""
        shutdown = getattr(self.view, "shutdown", None)
        if shutdown is not None:
            shutdown()

    def set_selected(self, paths: list[str]) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            self.view.set_selected_paths(paths)
        finally:
            self._syncing = False

    def set_highlight(self, references: list[str], neighbours: list[str]) -> None:
        self.view.set_highlight(references, neighbours[:NEIGHBOURS])

    def clear_highlight(self) -> None:
        """The grid is no longer ordered by similarity: no reference to mark."""
        self.view.set_highlight([], [])

    def set_arrange_available(self, available: bool) -> None:
        self.view.offer_arrange = available

    def _map_selected(self, paths: list) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            self.selectionChanged.emit(list(paths))
        finally:
            self._syncing = False
