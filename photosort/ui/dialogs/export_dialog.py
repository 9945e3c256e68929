"""File ▸ Export Sorted Copies…: target, name pattern with a live preview, scope, progress."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from PySide6.QtCore import Qt, QThreadPool, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from photosort.core.errors import ExportError
from photosort.core.export import (
    DEFAULT_PATTERN,
    ExportItem,
    ExportReport,
    check_target_outside,
    plan_export,
    render_name,
    run_export,
    target_problem,
    validate_pattern,
)
from photosort.core.jobs import CancelToken, Progress
from photosort.ui.desktop import open_with_system
from photosort.ui.workers import TaskHandle, run_task

PREVIEW_COUNT = 5


@dataclass(frozen=True)
class ExportSource:
    """What can be exported, in the grid's current order."""

    items: list[ExportItem]  # every readable photo
    selected: list[ExportItem]  # the selection, in grid order
    folders: list[str] = field(default_factory=list)  # folders being sorted: not a target
    references: tuple[str, ...] = ()  # the current sort's reference photos

    def selection_is_a_choice(self) -> bool:
        """A selection worth exporting by default: several photos, not just the references a
        similarity sort left selected."""
        chosen = {i.source for i in self.selected}
        return len(chosen) > 1 and chosen != set(self.references)


class ExportDialog(QDialog):
    exportFinished = Signal(object)  # ExportReport
    exportFailed = Signal(str)

    def __init__(
        self,
        source: ExportSource,
        pool: QThreadPool,
        target: str = "",
        pattern: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export Sorted Copies")
        self.setMinimumWidth(520)
        self.source = source
        self.pool = pool
        self.report: ExportReport | None = None
        self._cancel: CancelToken | None = None
        self._handle: TaskHandle | None = None

        self.target = QLineEdit(target)
        self.target.setPlaceholderText("A folder for the copies (created if needed)")
        self.target_error = QLabel()
        self.target_error.setObjectName("targetError")
        self.target_error.setStyleSheet("color: #c0392b")
        self.target_error.setWordWrap(True)
        self.target_error.setVisible(False)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        target_row = QHBoxLayout()
        target_row.addWidget(self.target, 1)
        target_row.addWidget(browse)

        self.pattern = QLineEdit(pattern or DEFAULT_PATTERN)
        self.pattern.setToolTip(
            "Fields: {rank} {name} {stem} {ext} {distance} {folder}; "
            "e.g. {rank:04d}_{name} or {rank:03d}-{distance:.3f}{ext}; "
            "a name without a photo extension keeps the original's"
        )
        self.preview = QListWidget()
        self.preview.setMaximumHeight(110)
        self.preview.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.pattern_error = QLabel()
        self.pattern_error.setStyleSheet("color: #c0392b")
        self.pattern_error.setWordWrap(True)

        self.all_button = QRadioButton(f"All photos ({len(source.items):,})")
        self.selection_button = QRadioButton(f"Only the selection ({len(source.selected):,})")
        self.first_button = QRadioButton("The first")
        self.first_n = QSpinBox()
        self.first_n.setRange(1, max(1, len(source.items)))
        self.first_n.setValue(min(50, max(1, len(source.items))))
        self.first_n.setSuffix(" photos")
        self.scope = QButtonGroup(self)
        for b in (self.all_button, self.selection_button, self.first_button):
            self.scope.addButton(b)
        self.selection_button.setEnabled(bool(source.selected))
        default = self.selection_button if source.selection_is_a_choice() else self.all_button
        default.setChecked(True)
        first_row = QHBoxLayout()
        first_row.addWidget(self.first_button)
        first_row.addWidget(self.first_n)
        first_row.addStretch(1)
        scope_box = QVBoxLayout()
        for w in (self.all_button, self.selection_button):
            scope_box.addWidget(w)
        scope_box.addLayout(first_row)

        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.status = QLabel("Originals are never changed; nothing in the target is overwritten.")
        self.status.setWordWrap(True)

        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton(
            "Export", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.open_button = self.buttons.addButton(
            "Open folder", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.open_button.setVisible(False)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.export_button.clicked.connect(self.start)
        self.open_button.clicked.connect(lambda: open_with_system(self.target_path()))
        self.close_button.clicked.connect(self._close_or_cancel)

        form = QFormLayout()
        form.addRow("Copy to:", target_row)
        form.addRow(self.target_error)
        form.addRow("Name pattern:", self.pattern)
        form.addRow(self.pattern_error)
        form.addRow("First names:", self.preview)
        form.addRow("Export:", scope_box)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)

        self.pattern.textChanged.connect(self._update_preview)
        self.target.textChanged.connect(self._update_buttons)
        self.scope.buttonToggled.connect(self._update_preview)
        self.first_n.valueChanged.connect(self._update_preview)
        self._update_preview()

    # -- what to export -----------------------------------------------------------------------

    def target_path(self) -> str:
        return os.path.abspath(os.path.expanduser(self.target.text().strip()))

    def chosen_items(self) -> list[ExportItem]:
        if self.selection_button.isChecked():
            return list(self.source.selected)
        if self.first_button.isChecked():
            return list(self.source.items[: self.first_n.value()])
        return list(self.source.items)

    def _update_preview(self, *_: object) -> None:
        self.preview.clear()
        pattern = self.pattern.text()
        try:
            validate_pattern(pattern)
            for rank, item in enumerate(self.chosen_items()[:PREVIEW_COUNT], start=1):
                self.preview.addItem(render_name(pattern, rank, item))
            self.pattern_error.setText("")
            self.pattern_error.setVisible(False)
            self._pattern_ok = True
        except ExportError as exc:
            self.pattern_error.setText(str(exc))
            self.pattern_error.setVisible(True)
            self._pattern_ok = False
        self._update_buttons()

    def _update_buttons(self, *_: object) -> None:
        running = self._handle is not None and not self._handle.finished
        # Judged from the text alone (no disk access on the GUI thread); the export job also
        # resolves symbolic links before copying anything.
        problem = target_problem(self.target.text(), self.source.folders)
        self.target_error.setText(problem or "")
        self.target_error.setVisible(problem is not None)
        self.export_button.setEnabled(
            not running
            and self._pattern_ok
            and problem is None
            and bool(self.target.text().strip())
            and bool(self.chosen_items())
        )

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Copy the photos to", self.target.text())
        if folder:
            self.target.setText(folder)

    # -- running ------------------------------------------------------------------------------

    def start(self) -> None:
        items = self.chosen_items()
        target = self.target_path()
        pattern = self.pattern.text()
        folders = list(self.source.folders)
        cancel = CancelToken()
        self._cancel = cancel

        def job(report) -> ExportReport:
            check_target_outside(target, folders)
            plan = plan_export(items, target, pattern)
            return run_export(plan, target, report, cancel)

        self.progress.setRange(0, len(items))
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.open_button.setVisible(False)
        self.status.setText(f"Copying {len(items):,} photos to {target}…")
        self.close_button.setText("Cancel")
        self._handle = run_task(
            job, self._done, self._fail, pool=self.pool, on_progress=self._progress
        )
        self._update_buttons()

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.cancel()

    def _progress(self, p: Progress) -> None:
        self.progress.setValue(p.done)

    def _done(self, report: ExportReport) -> None:
        self.report = report
        n = len(report.copied)
        if report.cancelled:
            self.status.setText(f"Cancelled after {n:,} copies (kept, with their list).")
        else:
            self.status.setText(f"Done: {n:,} copies and a list of them (photosort-export.csv).")
        self.progress.setValue(self.progress.maximum() if not report.cancelled else n)
        self.open_button.setVisible(n > 0)
        self.close_button.setText("Close")
        self._update_buttons()
        self.exportFinished.emit(report)

    def _fail(self, message: str) -> None:
        self.status.setText(f"<span style='color:#c0392b'>Export failed: {message}</span>")
        self.close_button.setText("Close")
        self._update_buttons()
        self.exportFailed.emit(message)

    def _close_or_cancel(self) -> None:
        if self._handle is not None and not self._handle.finished:
            self.cancel()
        else:
            self.reject()

    def reject(self) -> None:
        if self._handle is not None and not self._handle.finished:
            self.cancel()  # closing the window stops the copy; finished copies stay
        super().reject()
