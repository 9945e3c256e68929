"""Hand-offs to the desktop: system viewer, file manager, clipboard."""

from __future__ import annotations

import os
import sys

from PySide6.QtCore import QProcess, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication


def open_with_system(path: str) -> bool:
    return QDesktopServices.openUrl(QUrl.fromLocalFile(path))


def show_in_file_manager(path: str) -> bool:
    """Reveal the file selected where the platform can, else open its folder."""
    if sys.platform == "darwin":
        return QProcess.startDetached("open", ["-R", path])
    if sys.platform == "win32":
        return QProcess.startDetached("explorer", ["/select,", os.path.normpath(path)])
    uri = QUrl.fromLocalFile(path).toString()
    ok = QProcess.startDetached(
        "dbus-send",
        [
            "--session",
            "--dest=org.freedesktop.FileManager1",
            "--type=method_call",
            "/org/freedesktop/FileManager1",
            "org.freedesktop.FileManager1.ShowItems",
            f"array:string:{uri}",
            "string:",
        ],
    )
    return ok or QDesktopServices.openUrl(QUrl.fromLocalFile(os.path.dirname(path)))


def copy_text(text: str) -> None:
    QGuiApplication.clipboard().setText(text)
