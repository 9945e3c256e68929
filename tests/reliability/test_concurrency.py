"""Concurrent use: two `photosort index` processes on one store, and the app's store queries
running while the command line indexes.

The desktop app is not finished, so "the app open while the CLI indexes" is tested at the core
level: a reader `Store` (in a thread, and in a separate process) runs the queries the app runs
(`photo_infos_under`, `latents_under`, `failures_under`, and the projection cache it writes) in a
loop while a `photosort index` subprocess writes to the same database file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from photosort.core.store import Store
from tests.conftest import make_photo
from tests.reliability.helpers import (
    assert_clean_stderr,
    assert_store_matches_disk,
    photo_files,
    popen_cli,
)


def _folder(root: Path, n: int, start: int = 0) -> Path:
    for i in range(start, start + n):
        make_photo(root / f"d{i % 4}" / f"p{i:04d}.jpg", 3000 + i, size=(320, 240), quality=85)
    (root / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    return root


def _both(*procs: subprocess.Popen[bytes]) -> list[tuple[int, str, str]]:
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        out.append((proc.returncode, stdout.decode(), stderr.decode("utf-8", "replace")))
    return out


def _indexers(folder_a: Path, folder_b: Path, db: Path) -> list[tuple[int, str, str]]:
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    a = popen_cli("index", folder_a, "--db", db, "--threads", "1", **pipes)
    b = popen_cli("index", folder_b, "--db", db, "--threads", "1", **pipes)
    return _both(a, b)


@pytest.mark.slow
def test_two_index_processes_on_the_same_store_and_folder(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "photos", 120)
    db = tmp_path / "shared.sqlite3"  # does not exist yet: both create it at once
    n = len(photo_files(folder))
    for round_ in range(3):
        results = _indexers(folder, folder, db)
        for code, stdout, stderr in results:
            assert code == 0, stderr
            assert_clean_stderr(stderr)
            assert stdout.startswith(f"{n} photos: ")
            assert "broken.jpg: not a recognised image format" in stderr
        assert_store_matches_disk(db, [p for p in photo_files(folder) if "broken" not in p])
        # Change a third of the folder and race again.
        for path in photo_files(folder)[round_::3]:
            if "broken" not in path:
                make_photo(Path(path), 9000 + round_ * 1000 + hash(path) % 997, size=(320, 240))
        make_photo(folder / "new" / f"added{round_}.jpg", 7000 + round_)
        n = len(photo_files(folder))


@pytest.mark.slow
def test_index_of_a_folder_and_of_its_subfolder_at_once(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "photos", 100)
    db = tmp_path / "nested.sqlite3"
    for code, _stdout, stderr in _indexers(folder, folder / "d1", db):
        assert code == 0, stderr
        assert_clean_stderr(stderr)
    assert_store_matches_disk(db, [p for p in photo_files(folder) if "broken" not in p])


def _app_queries(db: Path, folder: Path, stop: threading.Event, log: dict) -> None:
    """What the app does with the store while it is open: browse, rank, cache a map."""
    try:
        with Store(db) as store:
            last = 0
            # At least 5 rounds, however soon the indexer ends (a busy machine may let it finish
            # before this thread gets going): the test's outcome must not depend on speed.
            while not stop.is_set() or log["loops"] < 5:
                infos = store.photo_infos_under(folder)
                paths, matrix = store.latents_under(folder, "pixels-8x8")
                failures = store.failures_under(folder)
                assert len(paths) == len(matrix) and paths == sorted(paths)
                if len(paths):
                    assert matrix.shape[1] == 192 and np.isfinite(matrix).all()
                assert len(infos) >= last  # a first index only ever adds photos
                last = len(infos)
                assert set(failures) <= {str(folder / "broken.jpg")}
                if log["loops"] % 10 == 0:
                    store.put_projection(f"map-{log['loops']}", "pixels-8x8", os.urandom(256))
                log["loops"] += 1
                log["max_seen"] = max(log["max_seen"], len(paths))
    except BaseException as exc:  # reported to the test thread
        log["error"] = repr(exc)


@pytest.mark.slow
def test_app_queries_in_a_thread_while_the_cli_indexes(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "photos", 200)
    db = tmp_path / "app.sqlite3"
    stop = threading.Event()
    log: dict = {"loops": 0, "max_seen": 0}
    proc = popen_cli(
        "index", folder, "--db", db, "--threads", "1",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    reader = threading.Thread(target=_app_queries, args=(db, folder, stop, log))
    reader.start()  # opens (and may have to create) the store while the indexer starts
    try:
        ((code, _out, err),) = _both(proc)
    finally:
        stop.set()
        reader.join(timeout=120)
    assert "error" not in log, log["error"]
    assert code == 0, err
    assert_clean_stderr(err)
    assert log["loops"] >= 5
    assert_store_matches_disk(db, [p for p in photo_files(folder) if "broken" not in p])


READER_PROCESS = r"""
import json, os, sys, time
from photosort.core.store import Store
db, folder, flag = sys.argv[1:4]
loops = 0
counts = []
with Store(db) as store:
    print("reading", flush=True)
    while True:
        done = os.path.exists(flag)
        infos = store.photo_infos_under(folder)
        paths, matrix = store.latents_under(folder, "pixels-8x8")
        store.failures_under(folder)
        assert len(paths) == len(matrix)
        counts.append(len(infos))
        loops += 1
        if loops % 10 == 0:
            store.put_projection("k%d" % loops, "pixels-8x8", b"x" * 64)
        if done:
            break
print(json.dumps({"loops": loops, "counts": counts}))
"""


@pytest.mark.slow
def test_app_queries_in_another_process_while_the_cli_indexes(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "photos", 200)
    db = tmp_path / "app2.sqlite3"
    flag = tmp_path / "indexer-finished"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER_PROCESS, str(db), str(folder), str(flag)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert reader.stdout is not None and reader.stdout.readline() == b"reading\n"
    indexer = popen_cli(
        "index", folder, "--db", db, "--threads", "1",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    ((code, _out, err),) = _both(indexer)
    flag.touch()
    ((rcode, rout, rerr),) = _both(reader)
    assert code == 0 and rcode == 0, (err, rerr)
    assert_clean_stderr(err)
    assert_clean_stderr(rerr)
    stats = json.loads(rout)
    assert stats["counts"] == sorted(stats["counts"]) and stats["counts"][-1] == 200
    assert_store_matches_disk(db, [p for p in photo_files(folder) if "broken" not in p])


OPENER_PROCESS = r"""
import sys
from photosort.core.store import SCHEMA_VERSION, Store
with Store(sys.argv[1]) as store:
    assert store.schema_version() == SCHEMA_VERSION
    assert store.set_aside is None, "a healthy database was taken for a damaged one"
    store.put_projection(sys.argv[2], "m", b"x")
"""


@pytest.mark.slow
def test_many_processes_creating_the_same_new_store_at_once(tmp_path: Path) -> None:
    for round_ in range(2):
        db = tmp_path / f"race{round_}.sqlite3"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", OPENER_PROCESS, str(db), f"p{i}"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for i in range(5)
        ]
        for code, _out, err in _both(*procs):
            assert code == 0, err
            assert_clean_stderr(err)
        with Store(db) as store:
            assert store.integrity_check() == "ok"
            assert all(store.get_projection(f"p{i}") == b"x" for i in range(5))
        assert not list(tmp_path.glob("*.damaged-*"))
