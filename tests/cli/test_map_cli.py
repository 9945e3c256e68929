"""`photosort sort/export --arrange` and `photosort map`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from photosort.cli import main
from tests.conftest import make_photo


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Thirty generated photos, some in a sub-folder."""
    root = tmp_path / "photos"
    for i in range(30):
        make_photo(root / ("sub" if i % 4 == 0 else "") / f"p{i:02d}.jpg", seed=200 + i)
    return root


def all_photos(root: Path) -> list[str]:
    return sorted(str(p) for p in root.rglob("*.jpg"))


def test_sort_arrange_prints_every_photo_exactly_once(folder: Path, db_path: Path, capsys):
    assert main(["sort", str(folder), "--arrange", "--db", str(db_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    printed = [line.split("\t")[1] for line in lines]
    assert sorted(printed) == all_photos(folder)
    assert len(printed) == len(set(printed)) == 30
    assert float(lines[0].split("\t")[0]) == 0.0  # distance to the previous photo


def test_sort_arrange_json_and_start_from_reference(folder: Path, db_path: Path, capsys):
    ref = folder / "p07.jpg"
    args = ["sort", str(folder), "--arrange", "--like", str(ref), "--json", "--db", str(db_path)]
    assert main(args) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["path"] == str(ref)
    assert sorted(r["path"] for r in rows) == all_photos(folder)


def test_sort_needs_like_or_arrange(folder: Path, db_path: Path, capsys):
    assert main(["sort", str(folder), "--db", str(db_path)]) == 1
    assert "--arrange" in capsys.readouterr().err


def test_export_arrange_copies_in_the_arranged_order(folder: Path, db_path: Path, tmp_path, capsys):
    assert main(["sort", str(folder), "--arrange", "--db", str(db_path)]) == 0
    order = [line.split("\t")[1] for line in capsys.readouterr().out.splitlines()]
    dest = tmp_path / "out"
    assert main(["export", str(folder), "--arrange", "--to", str(dest), "--db", str(db_path)]) == 0
    copied = sorted(p.name for p in dest.glob("*.jpg"))
    assert len(copied) == 30
    # names start with the rank, so name order is the arranged order
    assert [name.split("_", 1)[1] for name in copied] == [Path(p).name for p in order]


def test_map_renders_a_png(folder: Path, db_path: Path, tmp_path: Path):
    out = tmp_path / "map.png"
    proc = subprocess.run(
        [sys.executable, "-m", "photosort", "map", str(folder), "--out", str(out)]
        + ["--size", "400", "--thumb", "48", "--quick", "--db", str(db_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "map of 30 photos" in proc.stdout
    with Image.open(out) as img:
        assert max(img.size) == 400 and min(img.size) > 48  # cropped to the map's shape
        # thumbnails were drawn: far more colours than the background and the dots
        assert len(img.convert("RGB").getcolors(1 << 20) or []) > 100


def test_map_rejects_bad_sizes_and_unwritable_targets(folder: Path, db_path: Path, capsys):
    assert main(["map", str(folder), "--out", "x.png", "--size", "50", "--db", str(db_path)]) == 1
    bad = folder / "missing-dir" / "map.png"
    args = ["map", str(folder), "--out", str(bad), "--quick", "--size", "200", "--thumb", "32"]
    assert main([*args, "--db", str(db_path)]) == 1
    assert "cannot write" in capsys.readouterr().err
