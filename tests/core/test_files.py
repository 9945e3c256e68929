import os
from pathlib import Path

import pytest

from photosort.core import files
from photosort.core.files import scan_folder
from tests.conftest import make_photo


def names(result) -> list[str]:
    return [os.path.basename(e.path) for e in result.files]


def test_scan_finds_supported_formats_recursively_and_skips_others(tmp_path: Path) -> None:
    for ext in ("jpg", "JPEG", "png", "webp", "gif", "bmp", "tif", "tiff"):
        make_photo(tmp_path / "deep" / "er" / f"a.{ext}", seed=1)
    (tmp_path / "notes.txt").write_text("not a photo")
    (tmp_path / "movie.mp4").write_bytes(b"\0" * 10)
    result = scan_folder(tmp_path)
    assert sorted(names(result)) == sorted(
        f"a.{e}" for e in ("jpg", "JPEG", "png", "webp", "gif", "bmp", "tif", "tiff")
    )
    assert [e.path for e in result.files] == sorted(e.path for e in result.files)
    entry = result.files[0]
    assert entry.size == os.path.getsize(entry.path)
    assert entry.mtime_ns == os.stat(entry.path).st_mtime_ns


def test_hidden_files_and_folders_are_skipped(tmp_path: Path) -> None:
    make_photo(tmp_path / "visible.jpg", 1)
    make_photo(tmp_path / ".hidden.jpg", 2)
    make_photo(tmp_path / ".thumbnails" / "t.jpg", 3)
    make_photo(tmp_path / "@eaDir" / "syno.jpg", 4)
    assert names(scan_folder(tmp_path)) == ["visible.jpg"]


def test_symlink_loops_and_broken_links_are_survived(tmp_path: Path) -> None:
    make_photo(tmp_path / "a" / "one.jpg", 1)
    os.symlink(tmp_path, tmp_path / "a" / "loop")  # a -> .. -> a -> ...
    os.symlink(tmp_path / "missing.jpg", tmp_path / "broken.jpg")
    result = scan_folder(tmp_path)
    assert names(result) == ["one.jpg"]
    assert any(reason == "broken link" for _, reason in result.problems)


def test_non_utf8_file_names_are_found_and_round_trip(tmp_path: Path) -> None:
    raw = os.path.join(os.fsencode(tmp_path), b"caf\xe9.jpg")  # Latin-1 name, invalid UTF-8
    make_photo(tmp_path / "tmp.jpg", 1)
    os.rename(tmp_path / "tmp.jpg", raw)
    [entry] = scan_folder(tmp_path).files
    assert os.fsencode(entry.path) == raw
    assert files.key_to_path(files.path_to_key(entry.path)) == entry.path
    assert "\\xe9" in files.display_path(entry.path)
    assert os.path.getsize(entry.path) == entry.size


def test_unreadable_folder_is_reported_not_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    make_photo(tmp_path / "ok" / "a.jpg", 1)
    make_photo(tmp_path / "locked" / "b.jpg", 2)
    locked = str(tmp_path / "locked")
    real_scandir = os.scandir

    # Tests run as root in CI, where mode 000 does not stop a read: inject the error instead.
    def scandir(path):
        if os.fspath(path) == locked:
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(files.os, "scandir", scandir)
    result = scan_folder(tmp_path)
    assert names(result) == ["a.jpg"]
    assert result.problems == [(locked, "Permission denied")]
