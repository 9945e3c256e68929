"""Typed access to the app's QSettings (window layout, zoom, folders, model)."""

from __future__ import annotations

import os

from PySide6.QtCore import QByteArray, QSettings

MAX_RECENT = 8
#: Inference threads when the user has not chosen: half the cores, so the other half keeps the
#: GUI and thumbnails fluent.
AUTO_THREADS = max(1, (os.cpu_count() or 2) // 2)
DEFAULT_THUMB_CACHE_MB = 1024
MIN_THUMB_CACHE_MB = 50


class AppSettings:
    def __init__(self, settings: QSettings | None = None) -> None:
        self.qs = settings if settings is not None else QSettings()

    def _get(self, key: str, default, kind=None):
        # Never let QSettings hand back an invalid QVariant: see PhotoModel.tile() on PySide6
        # dropping references to None.
        value = self.qs.value(key, "" if default is None else default)
        if kind is None or value is None:
            return value
        try:
            return kind(value)
        except (TypeError, ValueError):
            return default

    @property
    def last_folder(self) -> str | None:
        return self._get("folders/last", None, str) or None

    @last_folder.setter
    def last_folder(self, folder: str | None) -> None:
        self.qs.setValue("folders/last", folder or "")

    def recent_folders(self) -> list[str]:
        value = self.qs.value("folders/recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or []) if v]

    def add_recent(self, folder: str) -> None:
        recent = [f for f in self.recent_folders() if f != folder]
        self.qs.setValue("folders/recent", [folder, *recent][:MAX_RECENT])

    def clear_recent(self) -> None:
        self.qs.setValue("folders/recent", [])

    @property
    def model_id(self) -> str | None:
        return self._get("model/id", None, str) or None

    @model_id.setter
    def model_id(self, value: str) -> None:
        self.qs.setValue("model/id", value)

    @property
    def thumb_size(self) -> int:
        return self._get("view/thumb_size", 160, int)

    @thumb_size.setter
    def thumb_size(self, value: int) -> None:
        self.qs.setValue("view/thumb_size", int(value))

    @property
    def show_ranks(self) -> bool:
        return self._get("view/show_ranks", "true", str) in ("true", "1", "True")

    @show_ranks.setter
    def show_ranks(self, value: bool) -> None:
        self.qs.setValue("view/show_ranks", "true" if value else "false")

    def geometry(self) -> QByteArray | None:
        value = self.qs.value("window/geometry", QByteArray())
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def state(self) -> QByteArray | None:
        value = self.qs.value("window/state", QByteArray())
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self.qs.setValue("window/geometry", geometry)
        self.qs.setValue("window/state", state)

    @property
    def export_target(self) -> str:
        return self._get("export/target", "", str)

    @export_target.setter
    def export_target(self, value: str) -> None:
        self.qs.setValue("export/target", value)

    @property
    def export_pattern(self) -> str | None:
        return self._get("export/pattern", None, str) or None

    @export_pattern.setter
    def export_pattern(self, value: str) -> None:
        self.qs.setValue("export/pattern", value)

    # -- Preferences ------------------------------------------------------------------------

    @property
    def default_model_id(self) -> str | None:
        """The encoder to start with (None: the one used last, else the shipped default)."""
        return self._get("preferences/default_model", None, str) or None

    @default_model_id.setter
    def default_model_id(self, value: str | None) -> None:
        self.qs.setValue("preferences/default_model", value or "")

    @property
    def threads(self) -> int:
        """Inference threads for indexing; 0: automatic (half the cores)."""
        return max(0, self._get("preferences/threads", 0, int))

    @threads.setter
    def threads(self, value: int) -> None:
        self.qs.setValue("preferences/threads", int(value))

    @property
    def thumb_cache_mb(self) -> int:
        return max(
            MIN_THUMB_CACHE_MB, self._get("preferences/thumb_cache_mb", DEFAULT_THUMB_CACHE_MB, int)
        )

    @thumb_cache_mb.setter
    def thumb_cache_mb(self, value: int) -> None:
        self.qs.setValue("preferences/thumb_cache_mb", int(value))

    @property
    def exclude_rules(self) -> list[str]:
        """Folders and name patterns left out of every scan, one rule each."""
        text = self._get("preferences/exclude", "", str)
        return [line for line in text.splitlines() if line.strip()]

    @exclude_rules.setter
    def exclude_rules(self, rules: list[str]) -> None:
        self.qs.setValue("preferences/exclude", "\n".join(r for r in rules if r.strip()))

    # -- measured per encoder ----------------------------------------------------------------

    def seconds_per_photo(self, model_id: str) -> float | None:
        value = self._get(f"index/seconds_per_photo/{model_id}", 0.0, float)
        return value if value and value > 0 else None

    def set_seconds_per_photo(self, model_id: str, seconds: float) -> None:
        self.qs.setValue(f"index/seconds_per_photo/{model_id}", float(seconds))

    def sync(self) -> None:
        self.qs.sync()
