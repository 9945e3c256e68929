"""Scale: a 50-level deep tree works end to end, and a small run of the 100,000-file benchmark
(benchmarks/scale_100k.py) checks that indexing and browsing stay far below 1 GB."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from photosort.core.files import scan_folder
from photosort.core.indexer import Indexer
from photosort.core.store import Store
from tests.conftest import REPO, make_photo
from tests.reliability.helpers import (
    assert_store_matches_disk,
    cli,
)

DEPTH = 50


def _deep_tree(root: Path, depth: int, name: str = "level") -> list[Path]:
    photos = []
    folder = root
    for level in range(depth):
        folder = folder / f"{name}-{level:02d}"
        photos.append(make_photo(folder / f"photo-{level:02d}.jpg", 500 + level, size=(48, 36)))
    os.symlink(root, folder / "back-to-the-top")  # a loop at the very bottom
    return photos


def test_deep_tree_of_50_levels(tmp_path: Path, db_path: Path) -> None:
    root = tmp_path / "deep"
    photos = _deep_tree(root, DEPTH)
    assert len(os.fsencode(str(photos[-1]))) > 500  # a long path, as deep trees have
    proc = cli("index", root, "--db", db_path)
    assert f"{DEPTH} photos: {DEPTH} indexed" in proc.stdout.decode()
    assert_store_matches_disk(db_path, [str(p) for p in photos])
    deepest = photos[-1]
    ranking = json.loads(
        cli("sort", root, "--like", deepest, "--json", "--db", db_path).stdout.decode()
    )
    assert ranking[0]["path"] == str(deepest) and len(ranking) == DEPTH
    with Store(db_path) as store:  # the app browsing the tree, from the top and from midway
        assert len(store.photo_infos_under(root)) == DEPTH
        middle = photos[24].parent
        assert len(store.photo_infos_under(middle)) == DEPTH - 24
        paths, vectors = store.latents_under(middle, "pixels-8x8")
        assert set(paths) == {str(p) for p in photos[24:]}
        assert vectors.shape == (DEPTH - 24, 192)
    dest = tmp_path / "export"
    cli("export", root, "--like", deepest, "--to", dest, "--db", db_path)
    assert (dest / "0001_photo-49.jpg").read_bytes() == deepest.read_bytes()
    assert len(list(dest.glob("*.jpg"))) == DEPTH


@pytest.mark.slow
def test_very_deep_tree_of_400_levels(tmp_path: Path, db_path: Path, pixels_encoder) -> None:
    # Far deeper than real trees, yet shallow enough for pytest's own (recursive) clean-up of
    # its temporary folders: 1,000+ levels would break shutil.rmtree, not PhotoSort.
    depth = 400
    root = tmp_path / "very"
    folder = str(root)
    os.mkdir(folder)
    for _level in range(depth):  # one at a time: pathlib's mkdir(parents=True) recurses
        folder = os.path.join(folder, "d")
        os.mkdir(folder)
    bottom = make_photo(Path(folder) / "bottom.jpg", 1)
    make_photo(root / "top.jpg", 2)
    assert [e.path for e in scan_folder(root).files] == sorted([str(bottom), str(root / "top.jpg")])
    with Store(db_path) as store:
        report = Indexer(store, pixels_encoder).index_folder(root)
    assert report.indexed == 2 and not report.skipped
    assert_store_matches_disk(db_path, [str(bottom), str(root / "top.jpg")])
    shutil.rmtree(root)


@pytest.mark.slow
def test_scale_benchmark_in_small(tmp_path: Path) -> None:
    """The 100,000-file benchmark's own code, on 3,000 files (the full run is documented)."""
    proc = subprocess.run(
        [
            sys.executable, str(REPO / "benchmarks" / "scale_100k.py"),
            "--count", "3000", "--workdir", str(tmp_path / "work"), "--json",
        ],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    assert result["ok"]
    assert result["browse_figures"]["photos"] == result["browse_figures"]["latents"] == 3000
    assert result["browse_figures"]["best"]
    assert result["peak_rss_mb"] < 1024
