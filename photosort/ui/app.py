"""Starting the desktop app: `run_app(folder)` for the command line, `create_main_window()`
for tests and the self-test (an offscreen window with its own database and settings)."""

from __future__ import annotations

import gc
import logging
import os
import sys
import traceback
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from photosort import __version__, paths
from photosort.core import exclude
from photosort.core.encoders import Registry
from photosort.core.errors import describe
from photosort.ui.icons import app_icon
from photosort.ui.main_window import MainWindow
from photosort.ui.settings import AUTO_THREADS, AppSettings

log = logging.getLogger("photosort.ui")

#: The indexer runs the encoder with this many threads unless Preferences say otherwise.
ENCODER_THREADS = AUTO_THREADS


def ensure_application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        QApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
        )
        app = QApplication(argv if argv is not None else [sys.argv[0]])
    app.setApplicationName(paths.APP_NAME)
    app.setOrganizationName(paths.APP_AUTHOR)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("io.github.photosort.PhotoSort")
    app.setWindowIcon(app_icon())
    return app  # type: ignore[return-value]


def create_main_window(
    folder: str | None = None,
    db_path: str | os.PathLike[str] | None = None,
    settings: QSettings | AppSettings | None = None,
    registry: Registry | None = None,
    thumbnail_dir: str | os.PathLike[str] | None = None,
) -> MainWindow:
    """Build the real main window (a QApplication must exist or is created).

    Tests pass a temporary `db_path`, a `QSettings` on a temporary ini file, their own
    `registry` and `thumbnail_dir`; the defaults are the user's.
    """
    ensure_application()
    if not isinstance(settings, AppSettings):
        settings = AppSettings(settings)
    if registry is None:
        registry = Registry.default(threads=settings.threads or ENCODER_THREADS)
    elif settings.threads:
        registry.set_threads(settings.threads)
    if settings.exclude_rules:  # (else PHOTOSORT_EXCLUDE, if the user set it, stays)
        exclude.set_environment(settings.exclude_rules)
    thumbs = Path(thumbnail_dir) if thumbnail_dir is not None else paths.thumbnail_cache_dir()
    window = MainWindow(registry, paths.default_db_path(db_path), settings, thumbs)
    # Everything built so far lives as long as the app: keep the cyclic collector from
    # walking it again (a full collection of it paused the GUI thread ~40 ms).
    gc.collect()
    gc.freeze()
    window.start_with(folder)
    return window


def _install_excepthook(window_getter) -> None:
    """An unexpected error in a slot becomes a logged message box, not a crash."""

    def hook(kind, value, tb) -> None:
        text = "".join(traceback.format_exception(kind, value, tb))
        log.error("unexpected error\n%s", text)
        print(text, file=sys.stderr)
        window = window_getter()
        if window is not None:
            QMessageBox.warning(
                window,
                "PhotoSort",
                f"Something went wrong: {kind.__name__}: {value}\n\n"
                "The details are in the log. PhotoSort keeps running.",
            )

    sys.excepthook = hook


def run_app(folder: str | None = None) -> int:
    app = ensure_application()
    holder: list[MainWindow] = []
    _install_excepthook(lambda: holder[0] if holder else None)
    try:
        window = create_main_window(folder)
    except Exception as exc:
        log.error("cannot start\n%s", traceback.format_exc())
        QMessageBox.critical(None, "PhotoSort", f"PhotoSort cannot start: {describe(exc)}")
        return 1
    holder.append(window)
    window.show()
    return app.exec()
