"""Choosing the encoder: one display name per encoder, and a question before a long re-index.

Every place that names an encoder (toolbar, Index ▸ Encoder menu, status bar, preview,
Preferences) uses `display_name(info)`, the manifest's "name"; the manifest's "description"
goes into tooltips. Switching to an encoder the folder has not been indexed with means
encoding every photo again; `EncoderSwitch` estimates how long from the number of photos
without a latent for it and a per-photo cost (measured on this machine for that encoder when
the app has indexed with it before, else `DEFAULT_SECONDS_PER_PHOTO`), and asks first when
that is more than `ASK_ABOVE_SECONDS`.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from photosort.core.encoders import ModelInfo
from photosort.core.indexer import IndexReport
from photosort.core.store import Store
from photosort.ui.settings import AppSettings
from photosort.ui.workers import Pools, TaskHandle, run_task

#: A cautious guess (50 photos/s: 12-megapixel phone JPEGs on 2 busy cores) until the app has
#: measured the encoder itself; docs/benchmarks.md measures 58-148 photos/s on small photos.
DEFAULT_SECONDS_PER_PHOTO = 0.02
#: Above this, switching the encoder asks first.
ASK_ABOVE_SECONDS = 60.0
#: A run must have decoded at least this many photos for its rate to replace the estimate.
MIN_MEASURED = 20


def display_name(info: ModelInfo) -> str:
    """The one name an encoder goes by in the app: its manifest's "name"."""
    return info.name


def tooltip(info: ModelInfo) -> str:
    lines = [info.description] if info.description else []
    lines.append(f"{info.latent_size} numbers per photo, {info.metric} distance")
    return "\n".join(lines)


def estimate_seconds(photos: int, seconds_per_photo: float) -> float:
    return max(0, photos) * max(0.0, seconds_per_photo)


def describe_duration(seconds: float) -> str:
    """'about 3 minutes', 'about 1 hour 20 minutes'."""
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return f"about {minutes} minute{'s' if minutes != 1 else ''}"
    hours, rest = divmod(minutes, 60)
    text = f"about {hours} hour{'s' if hours != 1 else ''}"
    return text + (f" {rest} minutes" if rest else "")


def photos_to_encode(db_path: str, folder: str, paths: list[str], model_id: str) -> int:
    """Worker side: how many of `paths` have no latent for `model_id` yet."""
    with Store(db_path) as store:
        rows = store.photos_under(folder, model_id)
    return sum(1 for p in paths if not (p in rows and rows[p].has_latent))


class EncoderSwitch(QObject):
    """Decides whether switching to another encoder may start at once or must be asked about.

    `request(model_id, folder, paths)` ends in `accepted(model_id)` or `refused(model_id)`;
    the question box (non-blocking) is kept in `self.question` while it is open.
    """

    accepted = Signal(str)
    refused = Signal(str)
    questionShown = Signal(object)  # the QMessageBox

    def __init__(
        self,
        settings: AppSettings,
        pools: Pools,
        db_path: str,
        names: dict[str, str],
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.pools = pools
        self.db_path = db_path
        self.names = names  # model id -> display name
        self.question: QMessageBox | None = None
        self._handle: TaskHandle | None = None
        self._started: float | None = None
        self._parent = parent

    def seconds_per_photo(self, model_id: str) -> float:
        return self.settings.seconds_per_photo(model_id) or DEFAULT_SECONDS_PER_PHOTO

    def request(self, model_id: str, folder: str | None, paths: list[str]) -> None:
        if self._handle is not None:
            self._handle.discard()
        if self.question is not None:
            self.question.close()
            self.question = None
        cost = self.seconds_per_photo(model_id)
        if folder is None or estimate_seconds(len(paths), cost) <= ASK_ABOVE_SECONDS:
            self.accepted.emit(model_id)  # even re-encoding every photo is quick: no need to count
            return
        db = self.db_path

        def count() -> int:
            return photos_to_encode(db, folder, paths, model_id)

        def counted(missing: int) -> None:
            self._handle = None
            seconds = estimate_seconds(missing, cost)
            if seconds <= ASK_ABOVE_SECONDS:
                self.accepted.emit(model_id)
            else:
                self._ask(model_id, missing, seconds)

        # Counting failed (a damaged store?): switch anyway; indexing reports the problem.
        self._handle = run_task(count, counted, lambda _m: self.accepted.emit(model_id),
                                pool=self.pools.io)  # fmt: skip

    def _ask(self, model_id: str, missing: int, seconds: float) -> None:
        name = self.names.get(model_id, model_id)
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Index with another encoder?",
            f"Sorting with “{name}” means indexing {missing:,} photos with it first: "
            f"{describe_duration(seconds)}. Photos stay visible and can be sorted with it "
            "as soon as they are indexed; Index ▸ Cancel Indexing stops it.",
            parent=self._parent,
        )
        self.index_button = box.addButton("Index Now", QMessageBox.ButtonRole.AcceptRole)
        self.keep_button = box.addButton(
            "Keep the Current Encoder", QMessageBox.ButtonRole.RejectRole
        )
        box.setDefaultButton(self.keep_button)
        box.setEscapeButton(self.keep_button)

        def answered(_result: int) -> None:
            self.question = None
            if box.clickedButton() is self.index_button:
                self.accepted.emit(model_id)
            else:
                self.refused.emit(model_id)

        box.finished.connect(answered)
        self.question = box
        box.open()
        self.questionShown.emit(box)

    # -- measuring the per-photo cost -----------------------------------------------------

    def index_started(self) -> None:
        self._started = time.monotonic()

    def index_finished(self, model_id: str, report: IndexReport) -> None:
        """Remember how long a photo took with this encoder (decode + encode, this machine)."""
        started, self._started = self._started, None
        if started is None or report.cancelled or report.decoded < MIN_MEASURED:
            return
        self.settings.set_seconds_per_photo(model_id, (time.monotonic() - started) / report.decoded)
