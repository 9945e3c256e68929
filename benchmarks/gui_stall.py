"""How long does the GUI thread ever stall while the app indexes a folder?

Generates N photos (default 2,000, 640×480 JPEGs) in a temporary folder, opens them in the real
main window (offscreen unless QT_QPA_PLATFORM says otherwise) with a temporary database,
thumbnail cache and settings, and while indexing runs (and the grid scrolls, so thumbnails
load too) a QTimer heartbeat records the gap between its ticks. The longest gap minus the
heartbeat interval is the longest stall a user could have felt. Target: < 100 ms.

    python benchmarks/gui_stall.py [--photos 2000] [--keep DIR]
    python benchmarks/gui_stall.py --scale 100000   # grid, sorts and refreshes at 100k photos
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

HEARTBEAT_MS = 5


def make_photos(folder: Path, count: int, size: tuple[int, int] = (640, 480)) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for i in range(count):
        path = folder / f"photo{i:05d}.jpg"
        if path.exists():
            continue
        rng = np.random.default_rng(i)
        a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        t = (xx / w)[..., None] if i % 2 else (yy / h)[..., None]
        img = a * (1 - t) + b * t
        for _ in range(6):
            x0, y0 = rng.integers(0, w - 60), rng.integers(0, h - 60)
            img[y0 : y0 + rng.integers(20, h // 2), x0 : x0 + rng.integers(20, w // 2)] = (
                rng.uniform(0, 255, 3)
            )
        img += rng.normal(0, 6, img.shape)
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB").save(path, quality=88)


def synthetic_snapshot(n: int, dim: int = 192):
    """A folder of `n` photos as the app holds it, without the files (for `--scale`)."""
    from photosort.ui.snapshot import INDEXED, FolderSnapshot

    paths = [f"/synthetic/dir{i // 1000:04d}/photo{i:07d}.jpg" for i in range(n)]
    state = np.full(n, INDEXED, np.uint8)
    state[-n // 20 :] = 0  # the last 5 % not indexed yet
    base = np.flatnonzero(state == INDEXED)
    rng = np.random.default_rng(0)
    return FolderSnapshot(
        folder="/synthetic",
        model_id="pixels-8x8",
        metric="euclidean",
        paths=paths,
        sizes=np.full(n, 2_000_000, np.int64),
        mtimes=np.zeros(n, np.int64),
        index_of={p: i for i, p in enumerate(paths)},
        names=[p.rsplit("/", 1)[1] for p in paths],
        taken=[None] * n,
        state=state,
        latent_paths=[paths[i] for i in base],
        latent_base=base,
        vectors=rng.normal(size=(len(base), dim)).astype(np.float32),
    )


def open_window(work: Path):
    """The real main window, with its database, settings and thumbnails under `work`, shown."""
    from PySide6.QtCore import QSettings

    from photosort.ui.app import create_main_window

    window = create_main_window(
        db_path=work / "db.sqlite3",
        settings=QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat),
        thumbnail_dir=work / "thumbs",
    )
    window.resize(1280, 800)
    window.show()
    return window


def scale_run(n: int) -> int:
    """Heartbeat while the grid shows, re-sorts and refreshes a synthetic n-photo folder."""
    from PySide6.QtCore import QElapsedTimer, QTimer

    from photosort.ui.app import ensure_application

    work = Path(tempfile.mkdtemp(prefix="photosort-scale-"))
    app = ensure_application()
    window = open_window(work)
    snap = synthetic_snapshot(n)
    clock = QElapsedTimer()
    gaps: dict[str, list[float]] = {}
    phase = ["idle"]
    last = [0.0]

    def tick() -> None:
        now = clock.nsecsElapsed() / 1e6
        gaps.setdefault(phase[0], []).append(now - last[0])
        last[0] = now

    def step(name: str, action) -> None:
        phase[0] = name
        action()

    heartbeat = QTimer(interval=HEARTBEAT_MS)
    heartbeat.timeout.connect(tick)
    plan = [
        ("show the folder", lambda: window.model.set_snapshot(snap)),
        ("sort by similarity", lambda: window.sort_like([snap.paths[7]])),
        ("select all", window.grid.selectAll),
        ("sort by name", window.sort_name_action.trigger),
        ("refresh while indexing", lambda: window._snapshot_updated(snap)),
        ("scroll to the end", window.grid.scrollToBottom),
    ]
    for k, (name, action) in enumerate(plan):
        QTimer.singleShot(1000 + 1500 * k, lambda n=name, a=action: step(n, a))
    QTimer.singleShot(1000 + 1500 * len(plan), app.quit)
    clock.start()
    heartbeat.start()
    app.exec()
    window.shutdown()
    shutil.rmtree(work, ignore_errors=True)
    worst = 0.0
    print(f"{n:,} photos (synthetic, no files):")
    for name, values in gaps.items():
        if name == "idle":
            continue
        stall = max(values[1:] or [HEARTBEAT_MS]) - HEARTBEAT_MS
        worst = max(worst, stall)
        print(f"  {name:24s} longest GUI-thread stall {stall:6.1f} ms")
    return 0 if worst < 100 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=2000)
    parser.add_argument("--keep", help="generate (or reuse) the photos in this folder")
    parser.add_argument(
        "--baseline", type=int, default=3, help="seconds of idle heartbeat measured first"
    )
    parser.add_argument(
        "--scale",
        type=int,
        metavar="N",
        help="instead: show, sort and refresh a synthetic folder of N photos (e.g. 100000)",
    )
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if args.scale:
        return scale_run(args.scale)

    from PySide6.QtCore import QElapsedTimer, QTimer

    from photosort.ui.app import ensure_application

    work = Path(tempfile.mkdtemp(prefix="photosort-stall-"))
    folder = Path(args.keep) if args.keep else work / "photos"
    t0 = time.monotonic()
    make_photos(folder, args.photos)
    print(f"{args.photos} photos ready in {time.monotonic() - t0:.1f} s ({folder})")

    app = ensure_application()
    window = open_window(work)

    clock = QElapsedTimer()
    gaps: list[float] = []
    when: list[float] = []
    idle: list[float] = []  # the same heartbeat with the window idle: this machine's noise
    last = [0.0]
    state = {"running": False, "start": 0.0, "report": None}

    def tick() -> None:
        now = clock.nsecsElapsed() / 1e6
        if state["running"]:
            gaps.append(now - last[0])
            when.append(time.monotonic() - state["start"])
        elif state["report"] is None and last[0]:
            idle.append(now - last[0])
        last[0] = now

    def scroll() -> None:  # a user browsing while indexing runs: thumbnails load too
        bar = window.grid.verticalScrollBar()
        bar.setValue((bar.value() + bar.pageStep()) % max(1, bar.maximum()))

    heartbeat = QTimer(interval=HEARTBEAT_MS)
    heartbeat.timeout.connect(tick)
    scroller = QTimer(interval=400)
    scroller.timeout.connect(scroll)

    def started() -> None:
        state["running"], state["start"] = True, time.monotonic()
        state["cpu0"] = time.thread_time()  # the GUI thread's own CPU time
        scroller.start()

    def finished(report) -> None:
        state["running"] = False
        state["report"] = report
        state["seconds"] = time.monotonic() - state["start"]
        state["cpu"] = time.thread_time() - state["cpu0"]
        scroller.stop()
        QTimer.singleShot(200, app.quit)

    window.library.indexStarted.connect(started)
    window.library.indexFinished.connect(finished)
    window.library.error.connect(lambda m: print("error:", m, file=sys.stderr))
    clock.start()
    heartbeat.start()
    QTimer.singleShot(args.baseline * 1000, lambda: window.open_folder(str(folder)))
    app.exec()
    window.shutdown()

    report = state["report"]
    stalls = np.asarray(gaps) - HEARTBEAT_MS if gaps else np.zeros(1)
    print(f"indexing: {report.summary() if report else 'did not finish'}")
    seconds = state.get("seconds", 0) or 1e-9
    print(
        f"indexing took {seconds:.1f} s; {len(gaps)} heartbeats; the GUI thread itself was "
        f"busy {100 * state.get('cpu', 0) / seconds:.0f} % of that time"
    )
    print(
        f"GUI-thread stall: longest {stalls.max():.1f} ms, 99th percentile "
        f"{np.percentile(stalls, 99):.1f} ms, median {np.median(stalls):.1f} ms "
        f"(target: longest < 100 ms)"
    )
    base = np.asarray(idle) - HEARTBEAT_MS if idle else np.zeros(1)
    print(
        f"idle window, same machine: longest {base.max():.1f} ms, 99th percentile "
        f"{np.percentile(base, 99):.1f} ms (load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs)"
    )
    worst = np.argsort(stalls)[::-1][:5]
    print("worst stalls: " + ", ".join(f"{stalls[i]:.0f} ms at {when[i]:.1f} s" for i in worst))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if stalls.max() < 100 else 1


if __name__ == "__main__":
    sys.exit(main())
