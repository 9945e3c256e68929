"""Which order the grid shows, computed on a worker and applied to the model.

The sort controller remembers the mode (name, date, similarity, arranged) and the references,
recomputes the order whenever the snapshot changes (indexing reached more photos, another
model), and asks the library to index references that have no latent yet.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, Signal

from photosort.ui import ordering
from photosort.ui.ordering import GridOrder, ReferencesNotIndexed
from photosort.ui.photo_model import PhotoModel
from photosort.ui.snapshot import FolderSnapshot
from photosort.ui.workers import Pools, TaskHandle, run_task

log = logging.getLogger("photosort.ui.sorter")


def arrange_function() -> Callable[[np.ndarray, str], np.ndarray] | None:
    """`photosort.core.arrange.arrange` when that module is installed."""
    if importlib.util.find_spec("photosort.core.arrange") is None:
        return None
    module = importlib.import_module("photosort.core.arrange")
    return getattr(module, "arrange", None)


class SortController(QObject):
    orderApplied = Signal(object, bool)  # GridOrder, and whether the user just asked for it
    needsIndexing = Signal(list)  # references without a latent
    error = Signal(str)

    def __init__(self, model: PhotoModel, pools: Pools, parent=None) -> None:
        super().__init__(parent)
        self.model = model
        self.pools = pools
        self.mode = ordering.NAME
        self.references: list[str] = []
        self._handle: TaskHandle | None = None
        self._waiting_for: set[str] = set()
        self._fresh = False  # the next order answers a user's request (not a refresh)

    def reset(self) -> None:
        """Another folder: back to name order, no references, nothing in flight."""
        if self._handle is not None:
            self._handle.discard()
        self.mode, self.references = ordering.NAME, []
        self._waiting_for.clear()
        self._fresh = False

    def sort_by(self, mode: str, references: list[str] | None = None) -> None:
        self.mode = mode
        if references is not None:
            self.references = list(references)
        self._waiting_for.clear()
        self._fresh = True
        self.apply()

    def sort_like(self, references: list[str]) -> None:
        self.sort_by(ordering.SIMILARITY, references)

    def apply(self, snap: FolderSnapshot | None = None) -> None:
        """Recompute the current order for the model's snapshot, off the GUI thread."""
        snap = snap or self.model.snapshot
        if snap is None:
            return
        if self._handle is not None:
            self._handle.discard()
        mode, refs = self.mode, list(self.references)
        arrange = arrange_function() if mode == ordering.ARRANGED else None
        if mode == ordering.ARRANGED and arrange is None:
            mode = self.mode = ordering.NAME

        def compute() -> GridOrder:
            return ordering.compute(snap, mode, refs, arrange)

        def done(order: GridOrder) -> None:
            if self.model.snapshot is not snap:
                self.apply()  # the snapshot moved on while we computed
                return
            self.model.apply_order(order)
            fresh, self._fresh = self._fresh, False
            self.orderApplied.emit(order, fresh)

        def failed(message: str) -> None:
            self.error.emit(message)

        self._handle = run_task(
            lambda: _compute_or_missing(compute), self._route(done), failed, pool=self.pools.io
        )

    def _route(self, done: Callable[[GridOrder], None]) -> Callable[[object], None]:
        def route(result: object) -> None:
            if isinstance(result, ReferencesNotIndexed):
                missing = [p for p in result.paths if p not in self._waiting_for]
                if missing:
                    self._waiting_for.update(missing)
                    self.needsIndexing.emit(missing)
                return
            assert isinstance(result, GridOrder)
            done(result)

        return route

    def on_snapshot_updated(self, snap: FolderSnapshot) -> None:
        """Indexing went on or the model changed: photos move into place."""
        if self.mode != ordering.NAME or self.model.grid_order.mode != ordering.NAME:
            self.apply(snap)


def _compute_or_missing(compute: Callable[[], GridOrder]) -> GridOrder | ReferencesNotIndexed:
    try:
        return compute()
    except ReferencesNotIndexed as exc:
        return exc
