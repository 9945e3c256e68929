"""The grid's model: a snapshot's flat arrays shown through a permutation.

Rows are view positions; `_order[row]` is the base index into the snapshot and `_row_of` its
inverse. A re-sort swaps the permutation inside `layoutAboutToBeChanged`/`layoutChanged` and
moves the few persistent indexes (selection, current item) with numpy: no per-photo Python work,
so a 100,000-photo folder re-sorts in milliseconds.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QPixmap

from photosort.ui.ordering import NAME, GridOrder
from photosort.ui.snapshot import FAILED, FolderSnapshot
from photosort.ui.thumbnails import ThumbnailCache

PathRole = Qt.ItemDataRole.UserRole + 1
StateRole = Qt.ItemDataRole.UserRole + 2  # snapshot.PENDING / INDEXED / FAILED
RankRole = Qt.ItemDataRole.UserRole + 3  # 1-based rank in a similarity order, else None
DistanceRole = Qt.ItemDataRole.UserRole + 4  # float or None
ReferenceRole = Qt.ItemDataRole.UserRole + 5  # bool
ErrorRole = Qt.ItemDataRole.UserRole + 6  # why the file or its thumbnail failed, or None
NameRole = Qt.ItemDataRole.UserRole + 7


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"


@dataclass(frozen=True, slots=True)
class Tile:
    """Everything the delegate paints for one row, fetched in one Python call."""

    name: str
    pixmap: QPixmap | None
    state: int
    error: str | None
    rank: int | None
    distance: float | None
    reference: bool
    name_spans: tuple[tuple[int, int], ...] = ()  # where it differs from similar names


class PhotoModel(QAbstractListModel):
    """Every photo of the open folder, in the current order."""

    orderChanged = Signal(str)  # the order's mode

    def __init__(self, thumbnails: ThumbnailCache, parent: Any = None) -> None:
        super().__init__(parent)
        self.thumbnails = thumbnails
        self.snapshot: FolderSnapshot | None = None
        self.grid_order = GridOrder(NAME, np.zeros(0, np.int64))
        self._order = np.zeros(0, np.int64)
        self._row_of = np.zeros(0, np.int64)
        self._distances: np.ndarray | None = None
        self._rank: np.ndarray | None = None  # rank per base index (ranked photos only)
        self._references: set[int] = set()
        self._names: list[str] = []
        thumbnails.ready.connect(self._thumbnail_ready)

    # -- Qt model API -------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._order)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        snap = self.snapshot
        if snap is None or not index.isValid():
            return None
        base = int(self._order[index.row()])
        if role == Qt.ItemDataRole.DecorationRole:
            path = snap.paths[base]
            pm = self.thumbnails.pixmap(path)
            if pm is None and self.thumbnails.error(path) is None:
                self.thumbnails.request(path, int(snap.sizes[base]), int(snap.mtimes[base]))
            return pm
        if role in (Qt.ItemDataRole.DisplayRole, NameRole):
            return self._names[base]
        if role == PathRole:
            return snap.paths[base]
        if role == StateRole:
            return int(snap.state[base])
        if role == RankRole:
            if self._rank is None or self._rank[base] < 0:
                return None
            return int(self._rank[base])
        if role == DistanceRole:
            if self._distances is None:
                return None
            d = float(self._distances[base])
            return None if math.isnan(d) else d
        if role == ReferenceRole:
            return base in self._references
        if role == ErrorRole:
            if snap.state[base] == FAILED:
                return snap.reasons.get(base, "could not be read")
            return self.thumbnails.error(snap.paths[base])
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(snap, base)
        return None

    def tile(self, row: int) -> Tile:
        """The delegate's fast path. It also avoids `QModelIndex.data()` for values that may be
        None: PySide6 6.12 on Python 3.11 drops a reference to None each time an invalid
        QVariant comes back to Python, and a few thousand paints later the interpreter aborts
        ("deallocating None")."""
        snap = self.snapshot
        assert snap is not None
        base = int(self._order[row])
        path = snap.paths[base]
        pm = self.thumbnails.pixmap(path)
        error = self.thumbnails.error(path)
        if error is None and (pm is None or not self.thumbnails.is_fresh(path)):
            self.thumbnails.request(path, int(snap.sizes[base]), int(snap.mtimes[base]))
        state = int(snap.state[base])
        if state == FAILED:
            error = snap.reasons.get(base, "could not be read")
        rank = None
        if self._rank is not None and self._rank[base] >= 0:
            rank = int(self._rank[base])
        distance = None
        if self._distances is not None:
            d = float(self._distances[base])
            distance = None if math.isnan(d) else d
        spans = snap.name_spans[base] if snap.name_spans else ()
        return Tile(
            self._names[base], pm, state, error, rank, distance, base in self._references, spans
        )

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    # -- updates from the controllers ---------------------------------------------------------

    def set_snapshot(self, snap: FolderSnapshot | None, order: GridOrder | None = None) -> None:
        """A different folder (or none): a full reset."""
        self.beginResetModel()
        self.snapshot = snap
        self._names = (snap.names or [os.path.basename(p) for p in snap.paths]) if snap else []
        n = len(snap.paths) if snap else 0
        self._set_order(order or GridOrder(NAME, np.arange(n, dtype=np.int64)))
        self.endResetModel()
        self.orderChanged.emit(self.grid_order.mode)

    def update_snapshot(self, snap: FolderSnapshot) -> None:
        """Same folder and files, newer store contents (indexing went on, another model)."""
        assert self.snapshot is not None and len(snap.paths) == len(self.snapshot.paths)
        self.snapshot = snap
        if self.rowCount():
            self.dataChanged.emit(self.index(0), self.index(self.rowCount() - 1))

    def apply_order(self, order: GridOrder) -> None:
        """Show the photos in a new order, keeping selection and current item."""
        if len(order.order) != len(self._order):
            return  # computed for another snapshot
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        old_rows = np.fromiter((i.row() for i in persistent), np.int64, len(persistent))
        bases = self._order[old_rows] if len(old_rows) else old_rows
        self._set_order(order)
        if len(persistent):
            new_rows = self._row_of[bases]
            self.changePersistentIndexList(persistent, [self.index(int(r)) for r in new_rows])
        self.layoutChanged.emit()
        self.orderChanged.emit(order.mode)

    def _set_order(self, order: GridOrder) -> None:
        self.grid_order = order
        self._order = np.asarray(order.order, np.int64)
        self._row_of = np.empty_like(self._order)
        self._row_of[self._order] = np.arange(len(self._order), dtype=np.int64)
        self._distances = order.distances
        snap = self.snapshot
        self._references = (
            {snap.index_of[p] for p in order.references if p in snap.index_of} if snap else set()
        )
        if order.distances is not None:
            rank = np.full(len(self._order), -1, np.int64)
            ranked = ~np.isnan(order.distances[self._order])
            rank[self._order[ranked]] = np.arange(1, int(ranked.sum()) + 1)
            self._rank = rank
        else:
            self._rank = None

    # -- lookups ------------------------------------------------------------------------------

    def thumbnail_entry(self, row: int) -> tuple[str, int, int]:
        """(path, size, mtime_ns) of a row: what the thumbnail cache keys on."""
        assert self.snapshot is not None
        base = int(self._order[row])
        snap = self.snapshot
        return snap.paths[base], int(snap.sizes[base]), int(snap.mtimes[base])

    def path_at(self, row: int) -> str:
        assert self.snapshot is not None
        return self.snapshot.paths[int(self._order[row])]

    def row_of_path(self, path: str) -> int | None:
        if self.snapshot is None:
            return None
        base = self.snapshot.index_of.get(path)
        return None if base is None else int(self._row_of[base])

    def paths_in_order(self) -> list[str]:
        if self.snapshot is None:
            return []
        paths = self.snapshot.paths
        return [paths[i] for i in self._order]

    def readable_paths_in_order(self) -> list[str]:
        """The photos an export may copy: all but files the index could not read (a text file
        named `notes.jpg`), as the command line's export leaves them out too."""
        if self.snapshot is None:
            return []
        paths, state = self.snapshot.paths, self.snapshot.state
        return [paths[i] for i in self._order if state[i] != FAILED]

    def is_readable(self, path: str) -> bool:
        snap = self.snapshot
        base = snap.index_of.get(path) if snap is not None else None
        return base is not None and snap.state[base] != FAILED

    def distance_of(self, path: str) -> float | None:
        if self.snapshot is None or self._distances is None:
            return None
        base = self.snapshot.index_of.get(path)
        if base is None:
            return None
        d = float(self._distances[base])
        return None if math.isnan(d) else d

    def references(self) -> list[str]:
        return list(self.grid_order.references)

    # -- internals ----------------------------------------------------------------------------

    def _tooltip(self, snap: FolderSnapshot, base: int) -> str:
        lines = [self._names[base], human_size(int(snap.sizes[base]))]
        if snap.taken[base]:
            lines.append(f"Taken {snap.taken[base]}")
        if self._rank is not None and self._rank[base] >= 0 and self._distances is not None:
            lines.append(f"Rank {self._rank[base]}, distance {self._distances[base]:.4f}")
        if snap.state[base] == FAILED:
            lines.append(f"Skipped: {snap.reasons.get(base, 'could not be read')}")
        elif snap.state[base] == 0:
            lines.append("Not indexed yet")
        return "\n".join(lines)

    @Slot(str)
    def _thumbnail_ready(self, path: str) -> None:
        row = self.row_of_path(path)
        if row is not None:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole, ErrorRole])
