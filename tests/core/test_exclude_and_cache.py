"""Folders and patterns left out of scans; the thumbnail cache kept within its size."""

from __future__ import annotations

import os
from pathlib import Path

from photosort.core import disk_cache
from photosort.core.encoders import Registry
from photosort.core.exclude import EXCLUDE_ENV, Exclusions, parse_rules, set_environment
from photosort.core.files import scan_folder
from tests.conftest import REPO, make_photo


def _tree(root: Path) -> Path:
    for rel in (
        "a.jpg",
        "b.JPG",
        "shot.png",
        "Screenshots/s1.jpg",
        "trip/c.jpg",
        "trip/c_edited.jpg",
        "trash/old.jpg",
    ):
        make_photo(root / rel, seed=len(rel))
    return root


def _names(root: Path, rules) -> list[str]:
    return [os.path.relpath(e.path, root) for e in scan_folder(root, Exclusions(rules)).files]


def test_patterns_and_folders_are_left_out(tmp_path):
    root = _tree(tmp_path / "photos")
    everything = _names(root, [])
    assert len(everything) == 7
    assert _names(root, ["*.png", "screenshots"]) == [
        "a.jpg", "b.JPG", "trash/old.jpg", "trip/c.jpg", "trip/c_edited.jpg",
    ]  # fmt: skip
    assert _names(root, ["*_edited.*", str(root / "trash")]) == [
        "Screenshots/s1.jpg", "a.jpg", "b.JPG", "shot.png", "trip/c.jpg",
    ]  # fmt: skip
    # A rule names a whole path component, never a prefix of another folder's name.
    assert "trip/c.jpg" in _names(root, [str(root / "tri")])


def test_rules_reach_every_scan_through_the_environment(tmp_path, monkeypatch):
    root = _tree(tmp_path / "photos")
    monkeypatch.setenv(EXCLUDE_ENV, "")
    set_environment(["# a comment", "*.png", "", "trip"])
    assert os.environ[EXCLUDE_ENV] == "# a comment\n*.png\ntrip"
    assert len(scan_folder(root).files) == 4
    set_environment([])
    assert EXCLUDE_ENV not in os.environ
    assert len(scan_folder(root).files) == 7


def test_parse_rules_drops_blanks_and_comments():
    assert parse_rules("  *.png \n\n# old\n~/Pictures/Trash\n") == ["*.png", "~/Pictures/Trash"]
    home = str(Path.home())
    assert Exclusions(["~/Pictures/Trash"]).excludes(f"{home}/Pictures/Trash/x.jpg", "x.jpg")


def _fill(folder: Path, sizes: list[int]) -> list[Path]:
    files = []
    for i, size in enumerate(sizes):
        path = folder / f"{i:02x}" / f"thumb{i}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
        os.utime(path, (1_000_000 + i * 100, 1_000_000 + i * 100))  # older first
        files.append(path)
    return files


def test_trim_deletes_the_least_recently_used_first(tmp_path):
    files = _fill(tmp_path / "thumbs", [1000, 1000, 1000, 1000])
    (tmp_path / "thumbs" / "00" / "being-written.tmp").write_bytes(b"y" * 5000)
    assert disk_cache.folder_size(tmp_path / "thumbs") == 4000
    assert disk_cache.trim(tmp_path / "thumbs", 2500) == 2000
    assert [f.exists() for f in files] == [False, False, True, True]
    assert (tmp_path / "thumbs" / "00" / "being-written.tmp").exists()
    assert disk_cache.clear(tmp_path / "thumbs") == 2000
    assert disk_cache.folder_size(tmp_path / "thumbs") == 0
    assert disk_cache.trim(tmp_path / "missing", 0) == 0


def test_threads_apply_to_encoders_opened_afterwards():
    registry = Registry([REPO / "models"], threads=2)
    first = registry.encoder("pixels-8x8")
    registry.set_threads(1)
    again = registry.encoder("pixels-8x8")
    assert again is not first and again.threads == 1
    registry.set_threads(1)
    assert registry.encoder("pixels-8x8") is again  # unchanged: kept
