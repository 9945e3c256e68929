"""Damaged state: a garbage or partly overwritten database, missing or corrupt model files, and
a store written by the previous schema version."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from photosort.core.store import SCHEMA_VERSION, Store
from tests import paused_cli
from tests.conftest import REPO, make_photo
from tests.reliability.data import make_schema_v1 as v1
from tests.reliability.helpers import (
    assert_clean_stderr,
    assert_store_matches_disk,
    cli,
    photo_files,
)

SCHEMA_V1 = Path(__file__).parent / "data" / "schema-v1.sqlite3"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for i in range(10):
        make_photo(tmp_path / "photos" / f"p{i}.jpg", 40 + i)
    return tmp_path / "photos"


def _damaged_then_fresh(db: Path, folder: Path, damaged: bytes) -> None:
    """`photosort index` says the database was damaged, keeps it aside byte for byte, and
    indexes into a new one."""
    proc = cli("index", folder, "--db", db)
    err = proc.stderr.decode()
    assert "10 photos: 10 indexed" in proc.stdout.decode()
    [aside] = [
        p for p in db.parent.glob(db.name + ".damaged-*") if not p.name.endswith(("-wal", "-shm"))
    ]
    assert f"the database was damaged; it was kept as {aside} and a new one started" in err
    assert len(err.strip().splitlines()) == 1
    assert aside.read_bytes() == damaged
    assert_store_matches_disk(db, photo_files(folder))
    again = cli("index", folder, "--db", db)
    assert again.stderr == b"" and "10 unchanged" in again.stdout.decode()


def test_garbage_database_file(folder: Path, tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite3"
    garbage = np.random.default_rng(1).bytes(64 * 1024)
    db.write_bytes(garbage)
    _damaged_then_fresh(db, folder, garbage)


def test_database_with_garbage_pages_behind_a_valid_header(folder: Path, tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite3"
    cli("index", folder, "--db", db)
    # make it big enough to have pages worth damaging
    with Store(db) as store, store.transaction() as conn:
        for i in range(400):
            store.put_latent(conn, 1, f"model{i}", np.ones(192, np.float32))
    size = db.stat().st_size
    with open(db, "r+b") as fh:  # keep page 1 (header and schema); overwrite the rest
        fh.seek(4096)
        fh.write(np.random.default_rng(2).bytes(size - 4096))
    damaged = db.read_bytes()
    _damaged_then_fresh(db, folder, damaged)


def test_truncated_database_file(folder: Path, tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite3"
    cli("index", folder, "--db", db)
    with Store(db) as store, store.transaction() as conn:
        for i in range(200):
            store.put_latent(conn, 1, f"model{i}", np.ones(192, np.float32))
    with open(db, "r+b") as fh:
        fh.truncate(db.stat().st_size // 2)
    _damaged_then_fresh(db, folder, db.read_bytes())


def test_garbage_write_ahead_log_is_ignored(folder: Path, tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite3"
    cli("index", folder, "--db", db)
    Path(f"{db}-wal").write_bytes(np.random.default_rng(3).bytes(40_000))
    proc = cli("index", folder, "--db", db)
    assert "10 unchanged" in proc.stdout.decode() and proc.stderr == b""
    assert not list(tmp_path.glob("*.damaged-*"))


def test_database_path_that_is_a_folder(folder: Path, tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite3"
    db.mkdir()
    proc = cli("index", folder, "--db", db, check=False)
    assert proc.returncode == 1
    assert proc.stderr.decode().strip() == (
        f"photosort: cannot open the database {db}: unable to open database file"
    )
    assert db.is_dir()  # nothing was moved or deleted


# -- models ---------------------------------------------------------------------------------


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    """A model folder searched before the shipped one, holding a copy of the shipped manifest."""
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(REPO / "models" / "pixels-8x8.json", models)
    return models


def _index_with_models(folder: Path, models: Path, tmp_path: Path, *extra: str):
    return cli(
        "index", folder, "--db", tmp_path / "m.sqlite3", *extra,
        check=False, env={"PHOTOSORT_MODELS": str(models)},
    )  # fmt: skip


def test_missing_model_file_is_named(folder: Path, models_dir: Path, tmp_path: Path) -> None:
    proc = _index_with_models(folder, models_dir, tmp_path)
    assert proc.returncode == 1
    err = proc.stderr.decode().strip()
    assert err == f"photosort: model file missing: {models_dir / 'pixels-8x8.onnx'}"


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_model_file_is_named(
    folder: Path, models_dir: Path, tmp_path: Path, damage: str
) -> None:
    real = (REPO / "models" / "pixels-8x8.onnx").read_bytes()
    data = {
        "garbage": np.random.default_rng(4).bytes(5000),
        "truncated": real[: len(real) // 2],
        "empty": b"",
    }[damage]
    onnx = models_dir / "pixels-8x8.onnx"
    onnx.write_bytes(data)
    proc = _index_with_models(folder, models_dir, tmp_path)
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert err.startswith(f"photosort: model file {onnx} cannot be loaded")
    # Nothing was half-indexed with a broken model.
    conn = sqlite3.connect(tmp_path / "m.sqlite3")
    assert conn.execute("SELECT COUNT(*) FROM latents").fetchone()[0] == 0
    conn.close()


def test_corrupt_manifest_is_named_and_the_shipped_model_still_works(
    folder: Path, models_dir: Path, tmp_path: Path
) -> None:
    manifest = models_dir / "pixels-8x8.json"
    manifest.write_text('{"id": "pixels-8x8", "input_size": ')
    (models_dir / "other.json").write_text(json.dumps({"id": "other", "input_size": 64}))
    proc = _index_with_models(folder, models_dir, tmp_path)
    assert proc.returncode == 0
    err = proc.stderr.decode()
    assert f"photosort: {manifest}: unreadable model manifest" in err
    assert f"photosort: {models_dir / 'other.json'}: invalid model manifest" in err
    assert "10 indexed" in proc.stdout.decode()


def test_manifest_that_disagrees_with_its_model(
    folder: Path, models_dir: Path, tmp_path: Path
) -> None:
    manifest = models_dir / "pixels-8x8.json"
    raw = json.loads(manifest.read_text())
    raw["latent_size"] = 100
    manifest.write_text(json.dumps(raw))
    shutil.copy(REPO / "models" / "pixels-8x8.onnx", models_dir)
    proc = _index_with_models(folder, models_dir, tmp_path)
    assert proc.returncode == 1
    assert "model pixels-8x8 gave 192 values, manifest says 100" in proc.stderr.decode()
    assert_clean_stderr(proc.stderr)


# -- the previous schema ---------------------------------------------------------------------


def test_saved_schema_v1_file_is_what_version_1_wrote() -> None:
    conn = sqlite3.connect(f"file:{SCHEMA_V1}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1 < SCHEMA_VERSION
        columns = [r[1] for r in conn.execute("PRAGMA table_info(photos)")]
        assert columns == ["id", "path", "size", "mtime_ns", "hash"]
    finally:
        conn.close()


def test_store_from_the_previous_schema_migrates_and_keeps_its_rows(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    shutil.copy(SCHEMA_V1, db)
    root = os.fsdecode(v1.ROOT)
    with Store(db) as store:
        assert store.migrated_from == 1 and store.schema_version() == SCHEMA_VERSION
        assert store.integrity_check() == "ok"
        infos = store.photo_infos_under(root)
        assert [os.fsencode(i.path) for i in infos] == sorted(v1.ROOT + n for n, _, _ in v1.PHOTOS)
        by_name = {os.fsencode(i.path)[len(v1.ROOT) :]: i for i in infos}
        for name, size, mtime in v1.PHOTOS:
            info = by_name[name]
            assert (info.size, info.mtime_ns, info.width, info.taken) == (size, mtime, None, None)
        paths, matrix = store.latents_under(root, "pixels-8x8")
        for path, row in zip(paths, matrix, strict=True):
            i = [v1.ROOT + n for n, _, _ in v1.PHOTOS].index(os.fsencode(path))
            np.testing.assert_array_equal(row, v1.vector(i))
        [failure] = store.failures_under(root).values()
        assert failure.reason == v1.FAILURE[3]
        store.put_projection("k", "pixels-8x8", b"new in schema 2")
    backup = sqlite3.connect(db.with_name(db.name + ".schema1.bak"))
    assert backup.execute("PRAGMA user_version").fetchone()[0] == 1
    assert backup.execute("SELECT COUNT(*) FROM photos").fetchone()[0] == len(v1.PHOTOS)
    backup.close()


def test_previous_schema_through_the_command_line(folder: Path, tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    shutil.copy(SCHEMA_V1, db)
    proc = cli("index", folder, "--db", db)
    assert "10 indexed" in proc.stdout.decode() and proc.stderr == b""
    with Store(db) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert len(store.photo_infos_under(os.fsdecode(v1.ROOT))) == len(v1.PHOTOS)
        assert all(i.width == 96 for i in store.photo_infos_under(folder))
    assert (tmp_path / "old.sqlite3.schema1.bak").exists()


PAUSED_MIGRATION = r"""
import sys, time
from pathlib import Path
from photosort.core import store
# The real step to schema 2, then a statement that calls back into this process: it writes the
# ready file and waits there, inside the migration transaction (after the ALTER TABLEs ran,
# before the COMMIT), until the test's SIGKILL arrives.
real_connect = store.connect
def connect(*args, **kwargs):
    conn = real_connect(*args, **kwargs)
    def pause():
        Path(sys.argv[2]).write_text("inside the migration")
        while True:
            time.sleep(3600)
    conn.create_function("pause_here", 0, pause)
    return conn
store.connect = connect
store.MIGRATIONS[1] = store.MIGRATIONS[1] + ["SELECT pause_here()"]
store.Store(sys.argv[1])
"""


@pytest.mark.slow
def test_sigkill_in_the_middle_of_a_migration_loses_nothing(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    shutil.copy(SCHEMA_V1, db)
    ready = tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-c", PAUSED_MIGRATION, str(db), str(ready)])
    paused_cli.wait_ready(proc, ready)
    assert db.with_name(db.name + ".schema1.bak").exists()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1  # rolled back, whole
    assert [r[1] for r in conn.execute("PRAGMA table_info(photos)")] == [
        "id", "path", "size", "mtime_ns", "hash",
    ]  # fmt: skip
    conn.close()
    with Store(db) as store:  # the next start migrates it properly
        assert store.migrated_from == 1 and store.schema_version() == SCHEMA_VERSION
        assert len(store.photo_infos_under(os.fsdecode(v1.ROOT))) == len(v1.PHOTOS)
        assert len(store.latents_under(os.fsdecode(v1.ROOT), "pixels-8x8")[0]) == len(v1.PHOTOS)
