"""Where PhotoSort finds its shipped files and keeps the user's data.

One place knows about source trees, installed packages and PyInstaller bundles, so the rest of
the code never guesses paths.
"""

from __future__ import annotations

import os
import site
import sys
from pathlib import Path

import platformdirs

APP_NAME = "PhotoSort"
APP_AUTHOR = "PhotoSort"
DB_ENV = "PHOTOSORT_DB"
MODELS_ENV = "PHOTOSORT_MODELS"
#: Overrides which installed encoder is the default (the CLI's and a first start's choice).
MODEL_ENV = "PHOTOSORT_MODEL"


def _install_roots() -> list[Path]:
    """Folders that may hold the shipped `models/` and `resources/`, most specific first."""
    roots: list[Path] = []
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        roots.append(Path(frozen_root))
    # Source tree or editable install: the package sits next to models/ and resources/.
    roots.append(Path(__file__).resolve().parent.parent)
    # `pip install .` puts data-files under <prefix>/share/photosort (`--user`: the user base).
    roots.append(Path(sys.prefix) / "share" / "photosort")
    user_base = getattr(site, "USER_BASE", None)
    if user_base:
        roots.append(Path(user_base) / "share" / "photosort")
    return roots


def shipped_dir(name: str) -> Path | None:
    """The first existing shipped folder called `name` ("models" or "resources")."""
    for root in _install_roots():
        candidate = root / name
        if candidate.is_dir():
            return candidate
    return None


def resource_path(*parts: str) -> Path | None:
    """A file under `resources/`, or None when it is not shipped."""
    base = shipped_dir("resources")
    if base is None:
        return None
    path = base.joinpath(*parts)
    return path if path.exists() else None


def guide_path() -> Path | None:
    """The user guide (docs/using-the-app.md), shipped next to models/ and resources/."""
    docs = shipped_dir("docs")
    guide = docs / "using-the-app.md" if docs is not None else None
    return guide if guide is not None and guide.is_file() else None


def user_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))


def user_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME, APP_AUTHOR))


def user_models_dir() -> Path:
    """Users add their own encoders here without rebuilding anything."""
    return user_data_dir() / "models"


def model_dirs() -> list[Path]:
    """Folders searched for encoders: $PHOTOSORT_MODELS (os.pathsep-separated), shipped, user."""
    dirs: list[Path] = []
    env = os.environ.get(MODELS_ENV)
    if env:
        dirs.extend(Path(p) for p in env.split(os.pathsep) if p)
    shipped = shipped_dir("models")
    if shipped is not None:
        dirs.append(shipped)
    dirs.append(user_models_dir())
    return dirs


def default_db_path(override: str | os.PathLike[str] | None = None) -> Path:
    """`--db` wins, then $PHOTOSORT_DB, then the platform's user data folder."""
    if override:
        return Path(override)
    env = os.environ.get(DB_ENV)
    if env:
        return Path(env)
    return user_data_dir() / "photosort.sqlite3"


def thumbnail_cache_dir() -> Path:
    return user_cache_dir() / "thumbnails"
