"""Moving duplicates to the real freedesktop.org trash (send2trash, in the test's own
XDG_DATA_HOME): what must never be moved, and what a failure part-way leaves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from photosort.core.duplicates import Group, Photo
from photosort.core.store import Store
from photosort.core.trash import trash_duplicates
from tests.conftest import make_photo


def trash_dir() -> Path:
    """The home trash send2trash uses: it reads XDG_DATA_HOME once, when first imported
    (inside a test, so under that test's isolated folders, never the real user's)."""
    from send2trash import plat_other

    return Path(plat_other.HOMETRASH) / "files"


def indexed(store: Store, path: Path) -> Photo:
    st = path.stat()
    with store.transaction() as conn:
        pid = store.upsert_photo(conn, str(path), st.st_size, st.st_mtime_ns, path.name.encode())
    return Photo(pid, str(path), st.st_size, st.st_mtime_ns, None, 96, 72, None)


@pytest.fixture
def setup(tmp_path: Path):
    folder = tmp_path / "photos"
    store = Store(tmp_path / "db.sqlite3")
    paths = [make_photo(folder / f"p{i}.jpg", seed=i) for i in range(4)]
    photos = [indexed(store, p) for p in paths]
    yield folder, store, photos
    store.close()


def test_the_others_go_to_the_trash_the_keeper_stays_and_the_store_forgets_them(setup) -> None:
    folder, store, photos = setup
    out = trash_duplicates(store, folder, [Group(photos[:3], "near")])
    assert out.moved == [photos[1].path, photos[2].path] and not out.failed and not out.skipped
    assert out.moved_bytes == photos[1].size + photos[2].size
    assert Path(photos[0].path).exists()
    assert not Path(photos[1].path).exists() and not Path(photos[2].path).exists()
    for p in photos[1:3]:  # recoverable
        assert (trash_dir() / Path(p.path).name).exists()
    assert set(store.photos_under(folder)) == {photos[0].path, photos[3].path}
    assert "2 photos moved to the trash" in out.summary()


def test_a_photo_outside_the_folder_is_left_in_place(setup, tmp_path: Path) -> None:
    folder, store, photos = setup
    outside = indexed(store, make_photo(tmp_path / "elsewhere" / "x.jpg", seed=9))
    out = trash_duplicates(store, folder, [Group([photos[0], outside], "near")])
    assert out.moved == [] and Path(outside.path).exists()
    assert "not inside" in out.skipped[0][1]


def test_a_file_changed_since_indexing_is_left_in_place(setup) -> None:
    folder, store, photos = setup
    make_photo(Path(photos[1].path), seed=42, size=(120, 90))  # edited after indexing
    out = trash_duplicates(store, folder, [Group(photos[:3], "near")])
    assert out.moved == [photos[2].path]
    assert out.skipped == [
        (photos[1].path, "it changed since it was indexed (index the folder again)")
    ]
    assert Path(photos[1].path).exists()


def test_nothing_moves_when_the_keeper_changed_or_vanished(setup) -> None:
    folder, store, photos = setup
    os.remove(photos[0].path)
    out = trash_duplicates(store, folder, [Group(photos[:3], "near")])
    assert out.moved == [] and len(out.skipped) == 2
    assert all("the photo to keep" in reason for _, reason in out.skipped)
    assert Path(photos[1].path).exists() and Path(photos[2].path).exists()


def test_a_keeper_of_one_group_is_never_moved_as_a_copy_in_another(setup) -> None:
    folder, store, photos = setup
    groups = [Group([photos[0], photos[1]], "near"), Group([photos[1], photos[2]], "near")]
    out = trash_duplicates(store, folder, groups)
    assert photos[1].path not in out.moved and Path(photos[1].path).exists()
    assert out.moved == [photos[2].path]


def test_a_failure_part_way_says_which_photos_moved_and_which_stayed(setup) -> None:
    folder, store, photos = setup
    from send2trash import send2trash

    def full_disk_on_second(path: str) -> None:
        if path == photos[2].path:
            raise OSError(28, "No space left on device")
        send2trash(path)

    group = Group(photos, "near")
    out = trash_duplicates(store, folder, [group], send=full_disk_on_second)
    assert out.moved == [photos[1].path, photos[3].path]
    assert [p for p, _ in out.failed] == [photos[2].path]
    assert "No space left" in out.failed[0][1]
    assert Path(photos[2].path).exists()  # still in place, still known
    assert photos[2].path in store.photos_under(folder)
    for p in out.moved:
        assert not Path(p).exists() and (trash_dir() / Path(p).name).exists()
