"""`photosort --selftest`: check that this installation (or bundle) really works, and say what.

It loads every installed encoder, writes a few photos of its own to a temporary folder, indexes
them into a temporary database, sorts them by similarity to one of them, finds the near copy
among them as a duplicate, watches a folder (watchdog), moves a file to a temporary trash
(send2trash), and opens the main window offscreen. Each check prints one `OK`/`FAIL` line; the
exit status is 0 only if every check passed. Nothing of the user's is touched: the database,
caches, settings, thumbnails and the trash all live in a temporary folder that is deleted
afterwards.

`PHOTOSORT_SELFTEST_FULL=1` adds a 2-D map (UMAP) of the photos: slow (numba compiles UMAP on
first use, ~20 s), so the bundle build runs it and the everyday `--selftest` does not.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

FULL_ENV = "PHOTOSORT_SELFTEST_FULL"
#: The checks, in the order they run and print.
CHECKS = (
    "paths",
    "encoders",
    "photos",
    "index",
    "sort",
    "duplicates",
    "watch",
    "trash",
    "qt",
    "window",
)
FULL_CHECKS = ("map",)
#: How long the window may take to list the generated photos.
WINDOW_TIMEOUT_S = 20.0
#: How long the folder watch may take to report a photo added.
WATCH_TIMEOUT_S = 20.0
#: The native watchdog observer per platform: anything else means the bundle lacks it and the
#: app would fall back to polling (or see nothing).
NATIVE_OBSERVERS = {
    "linux": "InotifyObserver",
    "darwin": "FSEventsObserver",
    "win32": "WindowsApiObserver",
}


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    seconds: float


@dataclass
class Context:
    """What the checks share: the temporary folders and what earlier checks produced."""

    root: Path
    photos: Path
    db: Path
    registry: Any = None
    reference: str = ""
    near_copy: str = ""
    paths: list[str] = field(default_factory=list)


class CheckFailed(Exception):
    """A check's own, readable failure (anything else is reported with its type)."""


def _make_image(seed: int, size: tuple[int, int] = (160, 120)) -> Any:
    """A distinct, photo-like picture: a colour gradient with a few coloured blocks."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    w, h = size
    base, tint = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    t = (np.arange(w, dtype=np.float32) / (w - 1))[None, :, None]
    img = np.broadcast_to(base * (1 - t) + tint * t, (h, w, 3)).copy()
    for _ in range(5):
        x0, y0 = int(rng.integers(0, w // 2)), int(rng.integers(0, h // 2))
        img[y0 : y0 + h // 3, x0 : x0 + w // 3] = rng.integers(0, 256, 3)
    return Image.fromarray(img.astype(np.uint8), "RGB")


def _reference_image() -> Any:
    """A real photo (a shipped sample) when there is one: content encoders are trained on
    photos, and on abstract test patterns they rightly see little difference between any two;
    the generated pattern otherwise."""
    from PIL import Image

    from photosort.paths import resource_path

    samples = resource_path("samples")
    photos = sorted(samples.glob("*.jpg")) if samples is not None else []
    if not photos:
        return _make_image(0)
    with Image.open(photos[0]) as img:
        img = img.convert("RGB")
        img.thumbnail((320, 320))
        return img


def _generate_photos(folder: Path) -> tuple[str, str, list[str]]:
    """Distinct photos (JPEG, PNG, HEIC) and a resized, re-compressed copy of the first: enough
    of them (18) for the map to use UMAP rather than its small-folder PCA layout."""
    folder.mkdir(parents=True)
    written: list[str] = []
    reference = _reference_image()
    ref_path = folder / "a-reference.jpg"
    reference.save(ref_path, quality=92)
    copy_path = folder / "b-near-copy.jpg"
    reference.resize((reference.width * 4 // 5, reference.height * 4 // 5)).save(
        copy_path, quality=70
    )
    written += [str(ref_path), str(copy_path)]
    for i in range(1, 15):
        path = folder / f"other-{i:02d}.jpg"
        _make_image(i).save(path, quality=90)
        written.append(str(path))
    _make_image(15).save(folder / "other-15.png")
    written.append(str(folder / "other-15.png"))
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        _make_image(16).save(folder / "other-16.heic", quality=90)
        written.append(str(folder / "other-16.heic"))
    except Exception:  # noqa: BLE001 - HEIC is optional: report the others
        pass
    return str(ref_path), str(copy_path), written


# -- the checks ---------------------------------------------------------------------------------


def check_paths(ctx: Context) -> str:
    from photosort import paths

    models = paths.shipped_dir("models")
    resources = paths.shipped_dir("resources")
    if models is None:
        raise CheckFailed("no shipped models/ folder found")
    if resources is None:
        raise CheckFailed("no shipped resources/ folder found")
    icon = paths.resource_path("icons", "photosort.svg")
    if icon is None:
        raise CheckFailed(f"resources at {resources} lack icons/photosort.svg")
    frozen = "bundle" if getattr(sys, "frozen", False) else "installed"
    return (
        f"{frozen}: models {models}, resources {resources}, user models {paths.user_models_dir()}"
    )


def check_encoders(ctx: Context) -> str:
    from photosort import paths
    from photosort.core.encoders import Registry

    registry = Registry.default(threads=2)
    ctx.registry = registry
    shipped = paths.shipped_dir("models")
    bad = [p for p in registry.problems if shipped is not None and str(shipped) in p]
    models = registry.models(include_references=True)  # `photosort eval` uses the references
    if not models:
        raise CheckFailed("no encoder installed")
    done = []
    for info in models:
        h, w = info.input_size
        batch = np.random.default_rng(0).integers(0, 256, (3, h, w, 3), dtype=np.uint8)
        out = registry.encoder(info.id).encode(batch)
        if out.shape != (3, info.latent_size) or not np.isfinite(out).all():
            raise CheckFailed(f"{info.id}: encode gave {out.shape}, non-finite or wrong size")
        done.append(f"{info.id} ({info.latent_size}-d{', reference' if info.reference else ''})")
    if bad:
        raise CheckFailed("broken shipped manifest: " + "; ".join(bad))
    return f"{len(models)} loaded and encoded a batch: " + ", ".join(done)


def check_photos(ctx: Context) -> str:
    ctx.reference, ctx.near_copy, ctx.paths = _generate_photos(ctx.photos)
    kinds = sorted({Path(p).suffix for p in ctx.paths})
    return f"{len(ctx.paths)} generated ({', '.join(kinds)}) in a temporary folder"


def check_index(ctx: Context) -> str:
    from photosort.core.indexer import Indexer
    from photosort.core.store import Store

    parts = []
    with contextlib.closing(Store(ctx.db)) as store:
        for info in ctx.registry.models():
            report = Indexer(store, ctx.registry.encoder(info.id)).index_folder(ctx.photos)
            if report.skipped or report.indexed != len(ctx.paths):
                raise CheckFailed(f"{info.id}: {report.summary()}; skipped: {report.skipped[:3]}")
            parts.append(f"{info.id}: {report.indexed}")
    return "photos indexed into a temporary database per encoder: " + ", ".join(parts)


def check_sort(ctx: Context) -> str:
    from photosort.core.similarity import LatentIndex
    from photosort.core.store import Store

    parts = []
    default = ctx.registry.info()
    with contextlib.closing(Store(ctx.db)) as store:
        for info in ctx.registry.models():
            paths, vectors = store.latents_under(ctx.photos, info.id)
            index = LatentIndex(paths, vectors, info.metric, info.query_expansion)
            ranking = index.rank_like([ctx.reference])
            ranked = [paths[i] for i in ranking.order]
            ref_row = index.row_of(ctx.reference)
            assert ref_row is not None
            if ranked[0] != ctx.reference:
                raise CheckFailed(f"{info.id}: the reference is not ranked first")
            # Closest to itself by distance alone (query expansion moves the query off it).
            plain = LatentIndex(paths, vectors, info.metric).rank_like([ctx.reference])
            if plain.distances[ref_row] > float(plain.distances.min()) + 1e-5:
                raise CheckFailed(f"{info.id}: the reference is not closest to itself")
            place = ranked.index(ctx.near_copy)
            if place > 2:
                raise CheckFailed(
                    f"{info.id}: the reference's near copy ranks {place + 1} of {len(ranked)}"
                )
            parts.append(f"{info.id}: near copy #{place + 1}")
    qe = default.query_expansion
    how = f"with query expansion (k={qe.k}, alpha={qe.alpha:g})" if qe else "by distance"
    return f"default {default.id} ranks {how}; reference ranked first; " + ", ".join(parts)


def check_duplicates(ctx: Context) -> str:
    """`photosort duplicates` with the default encoder: the near copy joins the reference."""
    from photosort.core.duplicates import find_duplicates
    from photosort.core.store import Store

    info = ctx.registry.info()
    with contextlib.closing(Store(ctx.db)) as store:
        found = find_duplicates(store, ctx.photos, info)
    group = next((g for g in found.groups if ctx.reference in g.paths), None)
    if group is None or ctx.near_copy not in group.paths:
        raise CheckFailed(
            f"{info.id}: the reference and its near copy are not one group "
            f"({len(found.groups)} groups among {found.photos} photos)"
        )
    return (
        f"{info.id}: the near copy is grouped with the reference ({group.kind}); "
        f"{len(found.groups)} group(s) among {found.photos} photos"
    )


def check_watch(ctx: Context) -> str:
    """Folder watching (watchdog): the native observer, and it sees a photo being added."""
    import threading

    from watchdog.events import FileSystemEventHandler
    from watchdog.observers import Observer

    kind = Observer.__name__
    native = NATIVE_OBSERVERS.get(sys.platform)
    if native is not None and kind != native:
        raise CheckFailed(f"watchdog uses {kind}, not the native {native} (a module is missing)")
    folder = ctx.root / "watched"
    folder.mkdir()
    seen = threading.Event()

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event: Any) -> None:
            if os.fsdecode(event.src_path).endswith("added.jpg"):
                seen.set()

    observer = Observer()
    observer.daemon = True
    observer.schedule(Handler(), str(folder), recursive=True)
    observer.start()
    try:
        shutil.copy(ctx.reference, folder / "added.jpg")
        if not seen.wait(WATCH_TIMEOUT_S):
            raise CheckFailed(f"{kind} reported no event for a photo added")
    finally:
        observer.stop()
        observer.join(timeout=5)
    return f"watchdog's {kind} saw a photo added to a watched folder"


def check_trash(ctx: Context) -> str:
    """Moving to the trash (send2trash): its backend loads; on Linux a copy really goes to a
    temporary freedesktop.org trash, never the user's: send2trash reads XDG_DATA_HOME when it is
    first imported, and here that is a folder in the temporary one (only for that import: the
    user's own encoders stay where the encoders check found them)."""
    saved = os.environ.get("XDG_DATA_HOME")
    os.environ["XDG_DATA_HOME"] = str(ctx.root / "data")
    try:
        from send2trash import send2trash
    finally:
        if saved is None:
            del os.environ["XDG_DATA_HOME"]
        else:
            os.environ["XDG_DATA_HOME"] = saved

    backend = send2trash.__module__
    if backend != "send2trash.plat_other":
        return f"{backend} loaded (not exercised: it would use the desktop's own trash)"
    from send2trash import plat_other

    trash = Path(plat_other.HOMETRASH)
    if not trash.is_relative_to(ctx.root):
        return f"{backend} loaded (not exercised: it was set up for {trash} before the self-test)"
    scratch = ctx.root / "to-trash"
    scratch.mkdir()
    victim = scratch / "copy.jpg"
    shutil.copy(ctx.reference, victim)
    send2trash(str(victim))
    if victim.exists() or not (trash / "files" / victim.name).exists():
        raise CheckFailed(f"a file sent to the trash is not in {trash}")
    return f"{backend}: a copy moved to a temporary freedesktop.org trash"


def _qt_app() -> Any:
    """The app's QApplication (as the ui sets it up), or a plain one if the ui is missing."""
    try:
        ui_app = importlib.import_module("photosort.ui.app")
    except ImportError:
        ui_app = None
    ensure = getattr(ui_app, "ensure_application", None)
    if ensure is not None:
        return ensure()
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication([sys.argv[0]])


def check_qt(ctx: Context) -> str:
    from PySide6.QtCore import QLibraryInfo, QSize
    from PySide6.QtGui import QGuiApplication, QIcon, QImageReader

    _qt_app()
    formats = {bytes(f.data()).decode() for f in QImageReader.supportedImageFormats()}
    missing = {"jpeg", "png", "svg"} - formats
    if missing:
        raise CheckFailed(f"Qt image formats missing: {', '.join(sorted(missing))}")
    from photosort import paths

    svg = paths.resource_path("icons", "actions", "sort-similar.svg")
    if svg is None or QIcon(str(svg)).pixmap(QSize(24, 24)).isNull():
        raise CheckFailed("an SVG icon does not render (iconengines/svg plugin missing?)")
    platform = QGuiApplication.platformName()
    version = QLibraryInfo.version().toString()
    return f"Qt {version}, platform {platform}, image formats jpeg/png/svg, SVG icons render"


def check_window(ctx: Context) -> str:
    from PySide6.QtCore import QCoreApplication, QSettings

    ui_app = importlib.import_module("photosort.ui.app")
    factory: Callable[..., Any] | None = getattr(ui_app, "create_main_window", None)
    if factory is None:
        raise CheckFailed("photosort.ui.app has no create_main_window()")
    app = _qt_app()
    settings = QSettings(str(ctx.root / "settings.ini"), QSettings.Format.IniFormat)
    started = time.perf_counter()
    window = factory(
        folder=str(ctx.photos),
        db_path=str(ctx.db),
        settings=settings,
        registry=ctx.registry,
        thumbnail_dir=str(ctx.root / "thumbnails"),
    )
    try:
        window.show()
        app.processEvents()
        shown = time.perf_counter() - started
        if not window.isVisible():
            raise CheckFailed("the main window did not show")
        title = window.windowTitle()
        listed = _wait_for_photos(window, len(ctx.paths))
    finally:
        window.close()
        QCoreApplication.processEvents()
        window.deleteLater()
        QCoreApplication.processEvents()
    return f"'{title}' shown in {shown * 1000:.0f} ms{listed}"


def _wait_for_photos(window: Any, count: int) -> str:
    """Let the window list the folder it opened, if it exposes its model."""
    from PySide6.QtCore import QCoreApplication

    model = getattr(window, "model", None)
    if model is None or not hasattr(model, "rowCount"):
        return ""
    deadline = time.monotonic() + WINDOW_TIMEOUT_S
    while time.monotonic() < deadline:
        QCoreApplication.processEvents()
        if model.rowCount() >= count:
            return f", {model.rowCount()} photos listed"
        time.sleep(0.02)
    raise CheckFailed(f"the window listed {model.rowCount()} of {count} photos")


def check_map(ctx: Context) -> str:
    """The similarity map as the app makes it (photosort.core.projection), UMAP included."""
    from photosort.core.store import Store

    info = ctx.registry.models()[0]
    with contextlib.closing(Store(ctx.db)) as store:
        paths, vectors = store.latents_under(ctx.photos, info.id)
        try:
            projection = importlib.import_module("photosort.core.projection")
        except ModuleNotFoundError as exc:
            if exc.name != "photosort.core.projection":
                raise
            projection = None
        if projection is not None:
            layout = projection.compute_map(store, info.id, paths, vectors, info.metric)
            xy, method = np.asarray(layout.coords), layout.method
        else:
            import umap

            reducer = umap.UMAP(n_neighbors=4, n_epochs=50, random_state=0)
            xy, method = reducer.fit_transform(vectors), "umap"
    if method != "umap":
        raise CheckFailed(f"the map fell back to {method!r} instead of UMAP")
    if xy.shape != (len(vectors), 2) or not np.isfinite(xy).all():
        raise CheckFailed(f"the map has shape {xy.shape} or non-finite coordinates")
    import umap

    return f"UMAP {umap.__version__} placed {len(vectors)} photos on the 2-D map"


CHECK_FUNCTIONS: dict[str, Callable[[Context], str]] = {
    "paths": check_paths,
    "encoders": check_encoders,
    "photos": check_photos,
    "index": check_index,
    "sort": check_sort,
    "duplicates": check_duplicates,
    "watch": check_watch,
    "trash": check_trash,
    "qt": check_qt,
    "window": check_window,
    "map": check_map,
}
#: A check that needs an earlier one is skipped (and fails) when that one failed.
NEEDS = {
    "index": ("encoders", "photos"),
    "sort": ("index",),
    "duplicates": ("index",),
    "watch": ("photos",),
    "trash": ("photos",),
    "window": ("encoders", "photos"),
    "map": ("index",),
}


# -- isolation ----------------------------------------------------------------------------------


@contextlib.contextmanager
def _isolated(root: Path, qt_settings: bool = True) -> Iterator[None]:
    """Point the database, caches, config and (process-wide, not undone) Qt settings at `root`;
    restore the environment afterwards."""
    saved = dict(os.environ)
    os.environ["PHOTOSORT_DB"] = str(root / "photosort.sqlite3")
    os.environ["XDG_CACHE_HOME"] = str(root / "cache")
    os.environ["XDG_CONFIG_HOME"] = str(root / "config")
    # The window is opened offscreen unless the caller chose a platform (`xcb` to watch it).
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    # numba caches compiled UMAP code next to the code; in a bundle it cannot, so keep it here.
    os.environ["NUMBA_CACHE_DIR"] = str(root / "numba")
    restore_handler = _quiet_qt_messages()
    try:
        if qt_settings:
            _isolate_qsettings(root)
        yield
    finally:
        restore_handler()
        os.environ.clear()
        os.environ.update(saved)


#: Qt messages that say nothing about the installation, only that the window is offscreen.
_NOISE = ("This plugin does not support propagateSizeHints()",)


def _quiet_qt_messages() -> Callable[[], None]:
    """Drop the offscreen plugin's noise from stderr while the checks run; returns the undo."""
    try:
        from PySide6.QtCore import qInstallMessageHandler
    except ImportError:
        return lambda: None

    def handler(_mode: Any, _context: Any, message: str) -> None:
        if message not in _NOISE:
            print(message, file=sys.stderr)

    previous = qInstallMessageHandler(handler)
    return lambda: qInstallMessageHandler(previous)


def _isolate_qsettings(root: Path) -> None:
    """Any QSettings() made during the self-test writes an ini file under `root`."""
    try:
        from PySide6.QtCore import QSettings
    except ImportError:
        return
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    for fmt in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(root / "qsettings"))
        QSettings.setPath(fmt, QSettings.Scope.SystemScope, str(root / "qsettings-system"))


def run_selftest(
    out: TextIO | None = None, full: bool | None = None, isolate_qt_settings: bool = True
) -> int:
    """Run every check, print one line each, return 0 if all passed (else 1).

    `isolate_qt_settings` points every QSettings of the process at the temporary folder, for
    good: right for `photosort --selftest`, which exits afterwards; a caller that goes on using
    Qt settings in the same process passes False (the window gets its own settings file anyway).
    """
    out = out or sys.stdout
    if full is None:
        full = os.environ.get(FULL_ENV, "") not in ("", "0")
    from photosort import __version__

    names = CHECKS + (FULL_CHECKS if full else ())
    print(f"PhotoSort {__version__} self-test (Python {sys.version.split()[0]})", file=out)
    root = Path(tempfile.mkdtemp(prefix="photosort-selftest-"))
    results: dict[str, Check] = {}
    total_start = time.perf_counter()
    try:
        ctx = Context(root=root, photos=root / "photos", db=root / "selftest.sqlite3")
        with _isolated(root, isolate_qt_settings):
            for name in names:
                missing = [n for n in NEEDS.get(name, ()) if not results[n].ok]
                started = time.perf_counter()
                if missing:
                    check = Check(name, False, f"not run: {', '.join(missing)} failed", 0.0)
                else:
                    check = _run_one(name, ctx)
                check.seconds = time.perf_counter() - started
                results[name] = check
                mark = "OK  " if check.ok else "FAIL"
                print(f"{mark} {name:<10} {check.detail} [{check.seconds:.2f} s]", file=out)
                out.flush()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    failed = [c.name for c in results.values() if not c.ok]
    elapsed = time.perf_counter() - total_start
    if failed:
        print(f"self-test FAILED ({', '.join(failed)}) in {elapsed:.1f} s", file=out)
        return 1
    print(f"self-test passed: {len(results)} checks in {elapsed:.1f} s", file=out)
    return 0


def _run_one(name: str, ctx: Context) -> Check:
    try:
        return Check(name, True, CHECK_FUNCTIONS[name](ctx), 0.0)
    except CheckFailed as exc:
        return Check(name, False, str(exc), 0.0)
    except Exception as exc:  # noqa: BLE001 - every failure is reported, then the next check
        last = traceback.extract_tb(exc.__traceback__)[-1]
        where = f"{Path(last.filename).name}:{last.lineno}"
        return Check(name, False, f"{exc.__class__.__name__}: {exc} ({where})", 0.0)


if __name__ == "__main__":
    sys.exit(run_selftest())
