"""Edit ▸ Preferences: the default encoder, inference threads, the thumbnail cache, and the
folders and name patterns to leave out.

The dialog only reads and writes `AppSettings`; the window applies what changed when
`applied` is emitted (threads to the registry, rules to the scanner, the cache limit to the
thumbnail folder). Measuring and clearing the cache run on a worker.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt, QThreadPool, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from photosort.core import disk_cache
from photosort.core.encoders import ModelInfo
from photosort.core.exclude import parse_rules
from photosort.ui.encoder_choice import display_name
from photosort.ui.settings import AUTO_THREADS, MIN_THUMB_CACHE_MB, AppSettings
from photosort.ui.workers import TaskHandle, run_task

EXCLUDE_HINT = (
    "One a line: a folder to leave out (/home/me/Pictures/Trash, ~/Pictures/Scans) or a name "
    "pattern for files and folders (Screenshots, *.png, *_edited.*)."
)


def human_mb(n: int) -> str:
    return f"{n / disk_cache.MB:,.0f} MB" if n >= disk_cache.MB else f"{n / 1024:,.0f} kB"


class PreferencesDialog(QDialog):
    applied = Signal()  # the settings were written: apply them
    cacheCleared = Signal(int)  # the thumbnail cache on disk was emptied: bytes freed
    cacheMeasured = Signal(int)  # bytes

    def __init__(
        self,
        settings: AppSettings,
        models: list[ModelInfo],
        thumbnail_dir: Path | None,
        pool: QThreadPool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.settings = settings
        self.models = {m.id: m for m in models}
        self.thumbnail_dir = thumbnail_dir
        self.pool = pool

        self.encoder = QComboBox()
        self.encoder.addItem("The one used last", "")
        for info in models:
            self.encoder.addItem(display_name(info), info.id)
        chosen = settings.default_model_id or ""
        self.encoder.setCurrentIndex(max(0, self.encoder.findData(chosen)))
        self.encoder_about = QLabel()
        self.encoder_about.setWordWrap(True)
        self.encoder_about.setStyleSheet("color: palette(mid);")
        self.encoder.currentIndexChanged.connect(self._describe_encoder)
        self._describe_encoder()

        self.threads = QSpinBox()
        self.threads.setRange(0, max(os.cpu_count() or 1, 1))
        self.threads.setSpecialValueText(f"Automatic ({AUTO_THREADS})")
        self.threads.setValue(settings.threads)
        self.threads.setToolTip(
            "How many processor cores the encoder may use while indexing. Fewer keep the "
            "computer responsive; more index faster."
        )

        self.cache_limit = QSpinBox()
        self.cache_limit.setRange(MIN_THUMB_CACHE_MB, 1_000_000)
        self.cache_limit.setSingleStep(100)
        self.cache_limit.setSuffix(" MB")
        self.cache_limit.setValue(settings.thumb_cache_mb)
        self.cache_used = QLabel("Measuring…")
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Delete every stored thumbnail; they are made again as needed")
        self.clear_button.clicked.connect(self.clear_cache)
        self.clear_button.setEnabled(thumbnail_dir is not None)
        cache_row = QHBoxLayout()
        cache_row.addWidget(self.cache_limit)
        cache_row.addWidget(self.cache_used, 1)
        cache_row.addWidget(self.clear_button)

        self.exclude = QPlainTextEdit()
        self.exclude.setPlainText("\n".join(settings.exclude_rules))
        self.exclude.setTabChangesFocus(True)
        self.exclude.setMinimumHeight(90)
        add_folder = QPushButton("Add Folder…")
        add_folder.clicked.connect(self._add_folder)
        hint = QLabel(EXCLUDE_HINT)
        hint.setWordWrap(True)
        hint.setStyleSheet("color: palette(mid);")
        exclude_box = QVBoxLayout()
        exclude_box.addWidget(self.exclude)
        row = QHBoxLayout()
        row.addWidget(hint, 1)
        row.addWidget(add_folder, 0, Qt.AlignmentFlag.AlignTop)
        exclude_box.addLayout(row)

        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.addRow("Default encoder:", self.encoder)
        form.addRow("", self.encoder_about)
        form.addRow("Inference threads:", self.threads)
        form.addRow("Thumbnail cache:", cache_row)
        form.addRow("Leave out:", exclude_box)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.resize(620, 480)
        self._tasks: list[TaskHandle] = []
        self.measure_cache()

    # -- cache ------------------------------------------------------------------------------

    def measure_cache(self) -> None:
        folder = self.thumbnail_dir
        if folder is None:
            self.cache_used.setText("No cache")
            return
        self._tasks.append(run_task(lambda: disk_cache.folder_size(folder), self._measured,
                                    self.cache_used.setText, pool=self.pool))  # fmt: skip

    def _measured(self, size: int) -> None:
        self.cache_used.setText(f"{human_mb(size)} in use")
        self.cacheMeasured.emit(size)

    def clear_cache(self) -> None:
        folder = self.thumbnail_dir
        if folder is None:
            return
        self.clear_button.setEnabled(False)
        self.cache_used.setText("Clearing…")

        def done(freed: int) -> None:
            self.clear_button.setEnabled(True)
            self.cacheCleared.emit(freed)
            self.measure_cache()

        self._tasks.append(run_task(lambda: disk_cache.clear(folder), done,
                                    self.cache_used.setText, pool=self.pool))  # fmt: skip

    # -- the rest ---------------------------------------------------------------------------

    def _describe_encoder(self, *_: object) -> None:
        info = self.models.get(self.encoder.currentData() or "")
        self.encoder_about.setText(
            info.description if info is not None else "Start with the encoder chosen last time."
        )

    def _add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A folder to leave out", str(Path.home()))
        if folder:
            text = self.exclude.toPlainText().rstrip("\n")
            self.exclude.setPlainText(f"{text}\n{folder}" if text else folder)

    def done(self, result: int) -> None:
        for task in self._tasks:  # results for a closed dialog are dropped
            task.discard()
        super().done(result)

    def accept(self) -> None:
        s = self.settings
        s.default_model_id = self.encoder.currentData() or None
        s.threads = self.threads.value()
        s.thumb_cache_mb = self.cache_limit.value()
        s.exclude_rules = parse_rules(self.exclude.toPlainText())
        s.sync()
        self.applied.emit()
        super().accept()
