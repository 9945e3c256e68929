"""SIGKILL at random moments of `photosort index` and `photosort export`: after every kill the
store is intact, a rerun completes, nothing is indexed twice or lost, and no partial copy stays.

The moments are chosen at random among points of the run (start-up, between batches, inside a
batch's transaction, between copies); the child stops at its point (tests.paused_cli) until
the kill lands, so no kill depends on how fast the machine is."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

from photosort.core.encoders import Registry
from photosort.core.indexer import Indexer
from photosort.core.store import Store
from tests import paused_cli
from tests.conftest import REPO, make_photo
from tests.reliability.helpers import (
    assert_clean_stderr,
    assert_store_consistent,
    assert_store_matches_disk,
    blake,
    cli,
    photo_files,
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


def _kill_at(point: str, nth: int, when: str, ready: Path, *args) -> None:
    """Run `photosort ARGS`, stopped at its `nth` `point`; SIGKILL it there."""
    ready.unlink(missing_ok=True)
    proc = paused_cli.popen(
        point, nth, when, ready, *args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    paused_cli.wait_ready(proc, ready)
    proc.send_signal(signal.SIGKILL)
    _out, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    assert_clean_stderr(err)


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

    cli("index", folder, "--db", db, "--threads", "1")
    assert_store_matches_disk(db, photo_files(folder))

    encoder = Registry([REPO / "models"]).encoder("pixels-8x8")
    kills = mid_write = 0
    timeline: list[tuple[str, int, str, bool]] = []  # (point, nth, when, store changed)
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

        # A random point of the run. Every cycle changes over 270 files, so a run writes at
        # least 8 batches of 32 and every point below is always reached.
        point, nth, when = rng.choice(
            [
                ("index-scan", 1, "before"),  # start-up: nothing read yet
                ("index-scan", 1, "after"),  # scanned, nothing written
                ("index-batch", rng.randint(1, 4), "before"),  # between two batches
                ("index-batch", rng.randint(1, 4), "after"),  # a batch just committed
                # Inside the first batch's transaction, rows written, no commit yet (a batch
                # holds at least 27 new photos: at most 5 of a cycle's changes are moves).
                ("index-latent", rng.randint(1, 27), "after"),
            ]
        )
        _kill_at(
            point, nth, when, tmp_path / "ready", "index", folder, "--db", db, "--threads", "1"
        )
        kills += 1

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
        # What the kill kept is exactly the batches committed before it.
        committed = (nth if when == "after" else nth - 1) if point == "index-batch" else 0
        assert (after_kill != before) == (committed > 0), (point, nth, when)
        if after_kill != before and after_kill != after_rerun:
            mid_write += 1
        timeline.append((point, nth, when, after_kill != before))
        assert_store_matches_disk(db, photo_files(folder))

    print("index kills (point, nth, when, wrote):", timeline)
    assert kills == KILL_CYCLES
    assert mid_write >= 1, "no kill landed between two written batches"
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

    kills = 0
    timeline: list[tuple[int, str, int]] = []  # (nth, when, files in target)
    for cycle in range(EXPORT_KILL_CYCLES):
        dest = tmp_path / f"dest{cycle}"
        # Before or after the n-th copy gets its final name; the 25th is the manifest.
        nth, when = rng.randint(1, 25), rng.choice(["before", "after"])
        _kill_at("export-publish", nth, when, tmp_path / "ready",
                 "export", folder, "--like", ref, "--to", dest, "--db", db)  # fmt: skip
        kills += 1
        timeline.append((nth, when, len(os.listdir(dest))))
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
    print("export kills (nth, when, files):", timeline)
    assert kills == EXPORT_KILL_CYCLES
