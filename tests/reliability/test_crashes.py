"""SIGKILL at random moments of `photosort index` and `photosort export`: after every kill the
store is intact, a rerun completes, nothing is indexed twice or lost, and no partial copy stays."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from photosort.core.encoders import Registry
from photosort.core.indexer import Indexer
from photosort.core.store import Store
from tests.conftest import REPO, make_photo
from tests.reliability.helpers import (
    assert_clean_stderr,
    assert_store_consistent,
    assert_store_matches_disk,
    blake,
    cli,
    photo_files,
    popen_cli,
    sha256,
    tree_digests,
)

PARTIAL = ".photosort-partial-"
KILL_CYCLES = 20
EXPORT_KILL_CYCLES = 8


def _pool(folder: Path, n: int, size: tuple[int, int] = (800, 600)) -> list[bytes]:
    """n distinct JPEGs as bytes; appending random bytes after the image makes more unique
    contents for free (decoders ignore trailing data, the content hash does not)."""
    out = []
    for i in range(n):
        path = make_photo(folder / f"pool{i}.jpg", 7000 + i, size=size, quality=85)
        out.append(path.read_bytes())
        path.unlink()
    return out


def _snapshot(db: Path) -> dict[bytes, bytes]:
    if not db.exists():
        return {}
    conn = sqlite3.connect(db, timeout=30)
    try:
        return dict(conn.execute("SELECT path, hash FROM photos").fetchall())
    except sqlite3.OperationalError:  # killed before the schema was created
        return {}
    finally:
        conn.close()


def _first_write(proc: subprocess.Popen[bytes], db: Path, before: dict[bytes, bytes]) -> float:
    """Wait until `proc` has changed the store (or ended); returns the seconds waited."""
    started = time.monotonic()
    while proc.poll() is None and time.monotonic() - started < 30:
        if _snapshot(db) != before:
            break
        time.sleep(0.01)
    return 0.0


def _kill_after(proc: subprocess.Popen[bytes], delay: float) -> bool:
    """SIGKILL `proc` after `delay` s; True if it was still running (a real kill)."""
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        time.sleep(0.005)
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return True


@pytest.mark.slow
def test_sigkill_during_index_at_random_moments(tmp_path: Path) -> None:
    rng = random.Random(7_2026)
    folder = tmp_path / "photos"
    db = tmp_path / "kill.sqlite3"
    pool = _pool(tmp_path, 12)
    serial = 0

    def put(path: Path) -> None:
        nonlocal serial
        serial += 1
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.choice(pool) + serial.to_bytes(8, "big") + os.urandom(8))

    # Enough photos that a run writes several batches even on a fast, idle machine: the kills
    # must be able to land between two of them (120 photos became too few once indexing sped up).
    for i in range(360):
        put(folder / f"d{i % 6}" / f"img{i:04d}.jpg")

    # Calibrate: a full, unkilled run over the initial folder tells how long a run lasts.
    started = time.monotonic()
    cli("index", folder, "--db", db, "--threads", "1")
    full_run = time.monotonic() - started
    assert_store_matches_disk(db, photo_files(folder))

    encoder = Registry([REPO / "models"]).encoder("pixels-8x8")
    kills = mid_write = 0
    timeline: list[tuple[float, bool, bool]] = []  # (delay, killed, store changed before kill)
    for cycle in range(KILL_CYCLES):
        # Give the next run plenty to do: new content, new files, deletions, moves and copies.
        files = [Path(p) for p in photo_files(folder)]
        for path in rng.sample(files, len(files) * 3 // 4):
            put(path)
        for path in rng.sample(files, 3):
            path.unlink()
            files.remove(path)
        for path in rng.sample(files, 3):
            target = folder / f"d{rng.randrange(6)}" / f"moved{cycle}-{path.name}"
            os.rename(path, target)
            files.remove(path)
        for path in rng.sample(files, 2):
            (folder / "copies").mkdir(exist_ok=True)
            (folder / "copies" / f"c{cycle}-{path.name}").write_bytes(path.read_bytes())
        for j in range(5):
            put(folder / f"d{rng.randrange(6)}" / f"new{cycle}-{j}.jpg")
        before = _snapshot(db)

        proc = popen_cli(
            "index", folder, "--db", db, "--threads", "1",
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        if cycle % 2 == 0:  # any moment of the run, start-up and scan included
            # Within the first 70 % of a calibrated run: a loaded machine makes runs vary
            # by 2x, and a kill after the run ended tests nothing.
            delay = rng.uniform(0.0, full_run * 0.7)
        else:  # a random moment once the run has committed its first batch
            delay = _first_write(proc, db, before) + rng.uniform(0.0, min(0.15, full_run * 0.3))
        killed = _kill_after(proc, delay)
        stderr = proc.stderr.read() if proc.stderr else b""
        if proc.stderr:
            proc.stderr.close()
        assert_clean_stderr(stderr)
        if killed:
            kills += 1
        else:
            assert proc.returncode == 0, stderr

        # Straight after the kill: intact, nothing doubled, and every photo the store held for
        # a file that did not change since is still there, with the same content.
        after_kill = _snapshot(db)
        assert_store_consistent(db)
        for p in photo_files(folder):
            key = os.fsencode(p)
            if key in before and before[key] == blake(p):
                assert after_kill.get(key) == before[key], f"lost: {p}"

        # The rerun (in-process here, to keep the suite fast; the CLI reruns at the end).
        with Store(db) as store:
            report = Indexer(store, encoder).index_folder(folder)
        assert not report.cancelled and not report.skipped
        after_rerun = _snapshot(db)
        if killed and after_kill != before and after_kill != after_rerun:
            mid_write += 1
        timeline.append((round(delay, 2), killed, after_kill != before))
        assert_store_matches_disk(db, photo_files(folder))

    print(f"index kills: full run {full_run:.2f}s; (delay, killed, wrote):", timeline)
    assert kills >= KILL_CYCLES // 4, f"only {kills} of {KILL_CYCLES} runs were still running"
    assert mid_write >= 1, "no kill landed while the store was being written"
    rerun = cli("index", folder, "--db", db)
    n = len(photo_files(folder))
    assert f"{n} photos: 0 indexed, {n} unchanged" in rerun.stdout.decode()


@pytest.mark.slow
def test_sigkill_during_export_leaves_only_complete_copies(tmp_path: Path) -> None:
    rng = random.Random(99)
    folder = tmp_path / "photos"
    pool = _pool(tmp_path, 6, size=(320, 240))
    for i in range(24):  # ~0.5 MB each: the copy, not the ranking, is what takes time
        (folder / f"p{i:02d}.jpg").parent.mkdir(exist_ok=True)
        (folder / f"p{i:02d}.jpg").write_bytes(pool[i % 6] + os.urandom(1 << 19))
    db = tmp_path / "e.sqlite3"
    ref = folder / "p00.jpg"
    cli("index", folder, "--db", db)
    originals = tree_digests(folder)
    complete = set(originals.values())

    # Calibrate on a second run: the first one also indexes the folder, and later exports,
    # which find it indexed, would finish before most of the random kill times.
    cli("export", folder, "--like", ref, "--to", tmp_path / "warm-up", "--db", db)
    started = time.monotonic()
    cli("export", folder, "--like", ref, "--to", tmp_path / "calibrate", "--db", db)
    full_run = time.monotonic() - started

    kills = 0
    timeline: list[tuple[float, bool, int]] = []  # (delay, killed, files in target)
    for cycle in range(EXPORT_KILL_CYCLES):
        dest = tmp_path / f"dest{cycle}"
        proc = popen_cli(
            "export", folder, "--like", ref, "--to", dest, "--db", db,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        delay = rng.uniform(0.1, full_run * 0.7)
        killed = _kill_after(proc, delay)
        kills += killed
        timeline.append((round(delay, 2), killed, len(os.listdir(dest)) if dest.exists() else 0))
        names = os.listdir(dest) if dest.exists() else []
        # Every file with a final name is a complete copy; only hidden temporaries may be partial.
        for name in names:
            if name.startswith(PARTIAL) or name == "photosort-export.csv":
                continue
            assert sha256(dest / name) in complete, f"partial copy under a final name: {name}"
        # The next export into the same folder completes and sweeps the temporaries away.
        cli("export", folder, "--like", ref, "--to", dest, "--db", db)
        left = os.listdir(dest)
        assert not [n for n in left if n.startswith(PARTIAL)]
        photos = [n for n in left if n.endswith(".jpg")]
        assert all(sha256(dest / n) in complete for n in photos)
        assert len(photos) >= 24
        assert tree_digests(folder) == originals
    print(f"export kills: full run {full_run:.2f}s; (delay, killed, files):", timeline)
    assert kills >= 2, f"only {kills} of {EXPORT_KILL_CYCLES} exports were still running"
