"""View ▸ Duplicates: the folder's duplicate groups as rows of thumbnails, the keeper marked.

Finding groups (and making signatures for photos indexed before they existed) and moving files
to the trash run on the io pool (core/duplicates.py, core/trash.py); this window only shows
results and asks. It works while the folder is still being indexed: it groups what is indexed
and looks again when indexing ends (`refresh`).

One row widget per group: groups are few next to photos (a few hundred in a folder of tens of
thousands), and only the first MAX_ROWS are shown at once, the largest first.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from photosort.core.duplicates import DEFAULT_STRICTNESS, Group, Photo, Report, find_duplicates
from photosort.core.encoders import Registry
from photosort.core.files import display_path
from photosort.core.jobs import Progress
from photosort.core.store import Store
from photosort.core.trash import TrashOutcome, format_bytes, trash_duplicates
from photosort.ui.thumbnails import ThumbnailCache
from photosort.ui.workers import Pools, TaskHandle, run_task

STRICTNESS_LABELS = {
    "exact": "Exact copies",
    "near": "Near-copies (resized, edited, cropped, turned)",
    "similar": "Similar shots too (bursts)",
}
KIND_LABELS = {"exact": "exact copies", "near": "near-copies", "similar": "similar shots"}
TILE = 150
MAX_ROWS = 300


def describe(p: Photo) -> str:
    dims = f"{p.width}×{p.height}" if p.width and p.height else "size unknown"
    taken = f" · {p.taken[:10].replace(':', '-')}" if p.taken else ""
    return f"{dims} · {format_bytes(p.size)}{taken}"


class PhotoTile(QFrame):
    """A thumbnail with its size and date, and a Keep button; a click opens the preview."""

    clicked = Signal(str)

    def __init__(self, photo: Photo, keep: QRadioButton, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.photo = photo
        self.keep = keep
        self.image = QLabel()
        self.image.setFixedSize(TILE, TILE)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setText("…")
        self.image.setToolTip(display_path(photo.path))
        self.image.setCursor(Qt.CursorShape.PointingHandCursor)
        name = QLabel(os.path.basename(photo.path))
        name.setMaximumWidth(TILE)
        name.setToolTip(display_path(photo.path))
        info = QLabel(describe(photo))
        info.setStyleSheet("color: palette(placeholder-text);")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        layout.addWidget(self.image)
        layout.addWidget(name)
        layout.addWidget(info)
        layout.addWidget(keep)

    def set_pixmap(self, pm: QPixmap) -> None:
        self.image.setPixmap(
            pm.scaled(
                TILE,
                TILE,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )

    def set_keeper(self, keeper: bool) -> None:
        self.setFrameShape(QFrame.Shape.Box if keeper else QFrame.Shape.NoFrame)
        self.setStyleSheet("PhotoTile { border: 2px solid palette(highlight); }" if keeper else "")

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.photo.path)
        super().mousePressEvent(event)


class GroupRow(QFrame):
    """One group: a header, its photos side by side, and its own trash button."""

    trashRequested = Signal(object)  # Group
    keeperChanged = Signal()

    def __init__(self, number: int, group: Group, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.group = group
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.header = QLabel()
        self.trash_button = QPushButton("Move the Others to Trash…")
        self.trash_button.clicked.connect(lambda: self.trashRequested.emit(self.group))
        top = QHBoxLayout()
        top.addWidget(self.header, 1)
        top.addWidget(self.trash_button)
        self.tiles: list[PhotoTile] = []
        self.choice = QButtonGroup(self)
        strip = QWidget()
        row = QHBoxLayout(strip)
        row.setContentsMargins(0, 0, 0, 0)
        for photo in group.photos:
            keep = QRadioButton("Keep")
            self.choice.addButton(keep)
            tile = PhotoTile(photo, keep)
            keep.toggled.connect(lambda on, p=photo.path: on and self._choose(p))
            self.tiles.append(tile)
            row.addWidget(tile)
        row.addStretch(1)
        # A group wider than the window scrolls sideways on its own; the header and its button
        # stay in view.
        scroll = QScrollArea()
        scroll.setWidget(strip)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFixedHeight(
            strip.sizeHint().height() + scroll.horizontalScrollBar().sizeHint().height() + 8
        )
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(scroll)
        self.number = number
        self._show_keeper()

    def _choose(self, path: str) -> None:
        if path != self.group.keeper.path:
            self.group.choose_keeper(path)
            self._show_keeper()
            self.keeperChanged.emit()

    def _show_keeper(self) -> None:
        g = self.group
        self.header.setText(
            f"<b>{self.number}.</b> {len(g.photos)} {KIND_LABELS[g.kind]} · keep "
            f"<b>{os.path.basename(g.keeper.path)}</b> ({g.reason}) · the others take "
            f"{format_bytes(g.reclaimable())}"
        )
        for tile in self.tiles:
            is_keeper = tile.photo.path == g.keeper.path
            tile.set_keeper(is_keeper)
            if is_keeper and not tile.keep.isChecked():
                tile.keep.setChecked(True)


class DuplicatesDialog(QDialog):
    """Non-modal; `refresh()` looks again (the main window calls it when indexing ends)."""

    groupsShown = Signal()  # a search finished and its rows are on screen
    questionShown = Signal(object)  # the confirmation QMessageBox, open
    trashed = Signal(object)  # TrashOutcome, after a move

    def __init__(
        self,
        registry: Registry,
        db_path: str,
        folder: str,
        model_id: str,
        pools: Pools,
        thumbnails: ThumbnailCache,
        preview: Callable[[str], object],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Duplicates")
        self.resize(1180, 760)
        self.registry, self.db_path, self.folder = registry, db_path, folder
        self.model_id, self.pools, self.thumbnails = model_id, pools, thumbnails
        self.preview = preview
        self.report: Report | None = None
        self.rows: list[GroupRow] = []
        self.question: QMessageBox | None = None
        self.indexing = False
        self._handle: TaskHandle | None = None
        self._tiles: dict[str, list[PhotoTile]] = {}

        self.strictness = QComboBox()
        for key, label in STRICTNESS_LABELS.items():
            self.strictness.addItem(label, key)
        self.strictness.setCurrentIndex(list(STRICTNESS_LABELS).index(DEFAULT_STRICTNESS))
        self.strictness.currentIndexChanged.connect(lambda _i: self.refresh())
        self.summary = QLabel("Looking for duplicates…")
        self.summary.setWordWrap(True)
        self.trash_all_button = QPushButton("Move All Others to Trash…")
        self.trash_all_button.setEnabled(False)
        self.trash_all_button.clicked.connect(self.ask_trash_all)
        top = QHBoxLayout()
        top.addWidget(QLabel("Find:"))
        top.addWidget(self.strictness)
        top.addStretch(1)
        top.addWidget(self.trash_all_button)
        self.body = QWidget()
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.body)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(scroll, 1)
        thumbnails.ready.connect(self._thumbnail_ready)
        self.refresh()

    # -- finding ------------------------------------------------------------------------------

    def set_indexing(self, indexing: bool) -> None:
        """The main window says whether its folder is being indexed (the groups are partial)."""
        was = self.indexing
        self.indexing = indexing
        if was and not indexing:
            self.refresh()
        elif indexing:
            self._show_summary()

    def index_started(self) -> None:
        self.set_indexing(True)

    def index_finished(self, _report: object) -> None:
        self.set_indexing(False)

    def refresh(self) -> None:
        if self._handle is not None:
            self._handle.discard()
        self.summary.setText("Looking for duplicates…")
        self.trash_all_button.setEnabled(False)
        registry, db, folder = self.registry, self.db_path, self.folder
        model_id, strictness = self.model_id, self.strictness.currentData()

        def job(report) -> Report:
            with Store(db) as store:
                info = registry.info(model_id)
                return find_duplicates(store, folder, info, strictness, progress=report)

        self._handle = run_task(
            job, self._show, self._failed, pool=self.pools.io, on_progress=self._progress
        )

    def _progress(self, p: Progress) -> None:
        # Only photos indexed before signatures existed are read again, once.
        self.summary.setText(
            f"Looking for duplicates… reading {p.done:,} of {p.total:,} photos indexed earlier"
        )

    def _failed(self, message: str) -> None:
        self._handle = None
        self.summary.setText(f"Could not look for duplicates: {message}")
        self.groupsShown.emit()

    def _show(self, report: Report) -> None:
        self._handle = None
        self.report = report
        for row in self.rows:
            row.setParent(None)
            row.deleteLater()
        self.rows = []
        self._tiles = {}
        for n, group in enumerate(report.groups[:MAX_ROWS], 1):
            row = GroupRow(n, group)
            row.trashRequested.connect(lambda g: self.ask_trash([g]))
            row.keeperChanged.connect(self._show_summary)
            for tile in row.tiles:
                tile.clicked.connect(self.preview)
                self._tiles.setdefault(tile.photo.path, []).append(tile)
                pm = self.thumbnails.pixmap(tile.photo.path)
                if pm is not None:
                    tile.set_pixmap(pm)
                else:
                    self.thumbnails.request(tile.photo.path, tile.photo.size, tile.photo.mtime_ns)
            self.body_layout.insertWidget(self.body_layout.count() - 1, row)
            self.rows.append(row)
        self._show_summary()
        self.groupsShown.emit()

    def _show_summary(self) -> None:
        report = self.report
        if report is None:
            return
        kind = KIND_LABELS[report.strictness]
        if not report.groups:
            text = f"No {kind} among {report.photos:,} photos."
        else:
            text = (
                f"{len(report.groups):,} groups of {kind} among {report.photos:,} photos: "
                f"{report.duplicates():,} photos could go to the Trash "
                f"({format_bytes(report.reclaimable())}). The photo marked Keep stays; "
                "click a photo to see it larger."
            )
            if len(report.groups) > MAX_ROWS:
                text += f" Showing the {MAX_ROWS} largest groups."
        if self.indexing:
            text += " Indexing is still running: the groups will be updated when it ends."
        for note in report.notes:
            text += f"\n{note[0].upper()}{note[1:]}."
        self.summary.setText(text)
        self.trash_all_button.setEnabled(bool(report.groups))

    def _thumbnail_ready(self, path: str) -> None:
        pm = self.thumbnails.pixmap(path)
        if pm is None:
            return
        for tile in self._tiles.get(path, []):
            tile.set_pixmap(pm)

    # -- trashing -----------------------------------------------------------------------------

    def ask_trash_all(self) -> None:
        if self.report is not None:
            self.ask_trash(self.report.groups)

    def ask_trash(self, groups: list[Group]) -> None:
        """Ask (non-blocking: the box is `self.question`) before moving the non-keepers."""
        count = sum(len(g.others) for g in groups)
        size = sum(g.reclaimable() for g in groups)
        where = "this group" if len(groups) == 1 else f"{len(groups):,} groups"
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Move to Trash?",
            f"Move {count:,} photos ({format_bytes(size)}) from {where} to the Trash? "
            "The photo marked Keep in each group stays where it is. Photos in the Trash can "
            "be restored from it.",
            parent=self,
        )
        self.move_button = box.addButton(
            f"Move {count:,} to Trash", QMessageBox.ButtonRole.AcceptRole
        )
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.setEscapeButton(cancel)

        def answered(_result: int) -> None:
            self.question = None
            if box.clickedButton() is self.move_button:
                self._trash(groups)

        box.finished.connect(answered)
        self.question = box
        box.open()
        self.questionShown.emit(box)

    def _trash(self, groups: list[Group]) -> None:
        db, folder = self.db_path, self.folder
        self.summary.setText("Moving to the Trash…")
        self.trash_all_button.setEnabled(False)
        for row in self.rows:
            row.trash_button.setEnabled(False)

        def job() -> TrashOutcome:
            with Store(db) as store:
                return trash_duplicates(store, folder, groups)

        def done(outcome: TrashOutcome) -> None:
            self.trashed.emit(outcome)
            problems = outcome.skipped + outcome.failed
            if problems:
                lines = "\n".join(f"{display_path(p)}: {r}" for p, r in problems[:12])
                more = f"\n… and {len(problems) - 12} more" if len(problems) > 12 else ""
                box = QMessageBox(
                    QMessageBox.Icon.Warning,
                    "Some photos stayed",
                    f"{outcome.summary()}.\n\n{lines}{more}",
                    parent=self,
                )
                box.open()
                self.question = box
            self.refresh()

        run_task(job, done, self._failed, pool=self.pools.io)
