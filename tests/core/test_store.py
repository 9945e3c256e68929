import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from photosort.core.errors import StoreError
from photosort.core.store import SCHEMA_VERSION, Store, connect, migrate


def test_new_store_uses_wal_and_current_schema(db_path: Path) -> None:
    with Store(db_path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.integrity_check() == "ok"
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_paths_and_latents_round_trip_including_non_utf8(db_path: Path, tmp_path: Path) -> None:
    odd = os.fsdecode(os.fsencode(str(tmp_path)) + b"/caf\xe9.jpg")
    vec = np.arange(5, dtype=np.float32) / 7
    with Store(db_path) as store:
        with store.transaction() as conn:
            pid = store.upsert_photo(conn, odd, 10, 20, b"h" * 16, 4, 3, "2020:01:01 00:00:00")
            Store.put_latent(conn, pid, "m", vec)
        paths, matrix = store.latents_under(tmp_path, "m")
        assert paths == [odd]
        np.testing.assert_array_equal(matrix[0], vec)
        [info] = store.photo_infos_under(tmp_path)
        assert (info.width, info.height, info.taken) == (4, 3, "2020:01:01 00:00:00")
        assert store.latents_under(tmp_path, "other")[0] == []


def test_folder_queries_do_not_leak_into_sibling_folders(db_path: Path, tmp_path: Path) -> None:
    with Store(db_path) as store:
        with store.transaction() as conn:
            for p in ("a/x.jpg", "a/sub/y.jpg", "ab/z.jpg", "b.jpg"):
                store.upsert_photo(conn, str(tmp_path / p), 1, 1, None)
        assert sorted(os.path.basename(p) for p in store.photos_under(tmp_path / "a")) == [
            "x.jpg",
            "y.jpg",
        ]


def test_changed_content_drops_stale_latents(db_path: Path, tmp_path: Path) -> None:
    path = str(tmp_path / "a.jpg")
    with Store(db_path) as store:
        with store.transaction() as conn:
            pid = store.upsert_photo(conn, path, 1, 1, b"1" * 16)
            Store.put_latent(conn, pid, "m1", np.ones(3, np.float32))
            Store.put_latent(conn, pid, "m2", np.ones(3, np.float32))
        with store.transaction() as conn:
            assert store.upsert_photo(conn, path, 2, 2, b"2" * 16) == pid
        assert not store.photos_under(tmp_path, "m1")[path].has_latent


def _store_at_schema(db_path: Path, version: int, photo: Path) -> None:
    """A store as that schema version of PhotoSort wrote it, with one photo and its latent."""
    conn = connect(db_path)
    migrate(conn, target=version)
    conn.execute(
        "INSERT INTO photos(path, size, mtime_ns, hash) VALUES (?, 5, 6, ?)",
        (os.fsencode(str(photo)), b"x" * 16),
    )
    conn.execute("INSERT INTO latents VALUES (1, 'm', ?)", (np.ones(4, np.float32).tobytes(),))
    conn.close()


def test_old_schema_is_migrated_step_by_step_with_a_backup(db_path: Path, tmp_path: Path) -> None:
    _store_at_schema(db_path, 1, tmp_path / "old.jpg")
    with Store(db_path) as store:
        assert store.migrated_from == 1
        assert store.schema_version() == SCHEMA_VERSION
        [info] = store.photo_infos_under(tmp_path)
        assert info.path.endswith("old.jpg") and info.taken is None
        assert store.latents_under(tmp_path, "m")[1].shape == (1, 4)
    backup = db_path.with_name(db_path.name + ".schema1.bak")
    assert backup.exists()
    assert sqlite3.connect(backup).execute("PRAGMA user_version").fetchone()[0] == 1


def test_schema_3_drops_blake2_content_hashes_but_keeps_latents(
    db_path: Path, tmp_path: Path
) -> None:
    # Version 2 stored BLAKE2b digests; BLAKE3 ones can never match them.
    _store_at_schema(db_path, 2, tmp_path / "old.jpg")
    with Store(db_path) as store:
        assert store.migrated_from == 2
        assert store.latent_sources("m") == {}
        assert store.latents_under(tmp_path, "m")[1].shape == (1, 4)


def test_edited_photo_without_a_stored_hash_loses_every_models_latents(
    db_path: Path, tmp_path: Path
) -> None:
    # After schema 3 a photo indexed before has no hash: an edit (new size and time) must still
    # drop the latents of the models that have not re-encoded it yet.
    photo = tmp_path / "a.jpg"
    with Store(db_path) as store:
        with store.transaction() as conn:
            pid = store.upsert_photo(conn, str(photo), 5, 6, None)
            Store.put_latent(conn, pid, "a", np.ones(4, np.float32))
            Store.put_latent(conn, pid, "b", np.ones(4, np.float32))
        with store.transaction() as conn:  # same size and time: nothing to drop
            store.upsert_photo(conn, str(photo), 5, 6, b"h" * 16)
        assert store.latents_under(tmp_path, "b")[1].shape == (1, 4)
        with store.transaction() as conn:
            conn.execute("UPDATE photos SET hash = NULL")
            pid = store.upsert_photo(conn, str(photo), 7, 8, b"n" * 16)
            Store.put_latent(conn, pid, "a", np.zeros(4, np.float32))
        assert store.latents_under(tmp_path, "b")[0] == []
        np.testing.assert_array_equal(store.latents_under(tmp_path, "a")[1], np.zeros((1, 4)))


def test_damaged_database_is_set_aside_and_a_fresh_one_started(db_path: Path) -> None:
    db_path.write_bytes(os.urandom(4096))
    garbage = db_path.read_bytes()
    with Store(db_path) as store:
        assert store.set_aside is not None
        assert store.set_aside.read_bytes() == garbage
        assert store.count_photos() == 0
        assert store.integrity_check() == "ok"


def test_newer_schema_is_refused_clearly(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(StoreError, match="newer PhotoSort"):
        Store(db_path)


def test_projection_cache(db_path: Path) -> None:
    with Store(db_path) as store:
        assert store.get_projection("k") is None
        store.put_projection("k", "m", b"data")
        assert store.get_projection("k") == b"data"


def test_a_new_model_version_forgets_the_old_versions_latents(db_path: Path, tmp_path: Path):
    photo = str(tmp_path / "a.jpg")
    with Store(db_path) as store:
        with store.transaction() as conn:
            pid = store.upsert_photo(conn, photo, 10, 20, b"h" * 16, 4, 3, None)
            Store.put_latent(conn, pid, "m", np.ones(4, np.float32))
            Store.put_latent(conn, pid, "other", np.ones(2, np.float32))
        store.put_projection("k", "m", b"map")
        # A store from before versions were kept: the version is adopted, nothing re-encoded.
        assert store.use_model_version("m", "1.0.0") is False
        assert store.latents_under(tmp_path, "m")[0] == [photo]
        assert store.use_model_version("m", "1.0.0") is False
        # Replaced under the same id: its latents and maps go, other models keep theirs.
        assert store.use_model_version("m", "2.0.0") is True
        assert store.latents_under(tmp_path, "m")[0] == []
        assert store.get_projection("k") is None
        assert store.latents_under(tmp_path, "other")[0] == [photo]
    with Store(db_path) as store:  # remembered across opens
        assert store.use_model_version("m", "2.0.0") is False
