"""`photosort duplicates`: the real command, in a child process, on files the test makes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image

from tests.conftest import make_photo


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "photosort", *args], capture_output=True, text=True, timeout=300
    )


def folder_with_copies(tmp_path: Path) -> tuple[Path, Path, list[Path]]:
    folder = tmp_path / "photos"
    orig = make_photo(folder / "beach.jpg", seed=5, size=(320, 240), quality=92)
    copy = folder / "beach (copy).jpg"
    shutil.copy(orig, copy)
    small = folder / "beach-email.jpg"
    Image.open(orig).resize((160, 120)).save(small, quality=70)
    for i in range(4):
        make_photo(folder / f"other{i}.jpg", seed=30 + i, size=(320, 240))
    return folder, orig, [copy, small]


def test_json_lists_groups_with_the_keeper_first(tmp_path: Path) -> None:
    folder, orig, copies = folder_with_copies(tmp_path)
    db = tmp_path / "db.sqlite3"
    out = run("duplicates", str(folder), "--json", "--db", str(db))  # indexes first
    assert out.returncode == 0, out.stderr
    groups = json.loads(out.stdout)
    assert len(groups) == 1
    (g,) = groups
    assert g["keeper"] == str(orig) and g["paths"][0] == str(orig)
    assert set(g["paths"]) == {str(orig), *map(str, copies)}
    assert g["reason"] and g["photos"][0]["width"] == 320
    exact = json.loads(
        run("duplicates", str(folder), "--json", "--strictness", "exact", "--db", str(db)).stdout
    )
    assert [set(x["paths"]) for x in exact] == [{str(orig), str(copies[0])}]


def test_text_output_dry_run_and_trash(tmp_path: Path) -> None:
    folder, orig, copies = folder_with_copies(tmp_path)
    db = tmp_path / "db.sqlite3"
    text = run("duplicates", str(folder), "--db", str(db))
    assert text.returncode == 0, text.stderr
    assert f"keep   {orig}" in text.stdout
    assert "1 groups of near-copies among 7 photos; 2 could go to the trash" in text.stdout
    dry = run("duplicates", str(folder), "--trash", "--dry-run", "--db", str(db))
    assert "would move 2 photos" in dry.stdout
    assert all(p.exists() for p in copies)
    moved = run("duplicates", str(folder), "--trash", "--db", str(db))
    assert moved.returncode == 0, moved.stderr
    assert "2 photos moved to the trash" in moved.stdout
    assert orig.exists() and not any(p.exists() for p in copies)
    trash = Path(os.environ["XDG_DATA_HOME"]) / "Trash" / "files"
    assert {p.name for p in trash.iterdir()} >= {p.name for p in copies}
    again = run("duplicates", str(folder), "--json", "--db", str(db))
    assert json.loads(again.stdout) == []


def test_a_missing_folder_is_one_line_and_status_1(tmp_path: Path) -> None:
    out = run("duplicates", str(tmp_path / "nope"), "--db", str(tmp_path / "db.sqlite3"))
    assert out.returncode == 1
    assert out.stderr.strip() == f"photosort: no such folder: {tmp_path / 'nope'}"
