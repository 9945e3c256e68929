"""Icons: the platform theme first, the shipped SVGs as fallbacks."""

from __future__ import annotations

from functools import cache

from PySide6.QtGui import QIcon

from photosort.paths import resource_path

APP_ID = "io.github.photosort.PhotoSort"

#: action name -> freedesktop theme name
THEME_NAMES = {
    "open-folder": "document-open-folder",
    "sort-similar": "view-sort-descending",
    "export": "document-export",
    "map": "map-flat",
    "zoom-in": "zoom-in",
    "zoom-out": "zoom-out",
    "cancel": "process-stop",
    "arrange": "view-grid",
}


@cache
def action_icon(name: str) -> QIcon:
    fallback = resource_path("icons", "actions", f"{name}.svg")
    icon = QIcon(str(fallback)) if fallback else QIcon()
    theme = THEME_NAMES.get(name)
    if theme and QIcon.hasThemeIcon(theme):
        return QIcon.fromTheme(theme, icon)
    return icon


@cache
def app_icon() -> QIcon:
    icon = QIcon()
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        png = resource_path("icons", "hicolor", f"{size}x{size}", "apps", f"{APP_ID}.png")
        if png is not None:
            icon.addFile(str(png))
    svg = resource_path("icons", "photosort.svg")
    if icon.isNull() and svg is not None:
        icon.addFile(str(svg))
    return icon
