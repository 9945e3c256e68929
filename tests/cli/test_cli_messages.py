"""The command line in a new user's first hour (issue 15): an export into the folder being
sorted is refused, and every refusal is one line of plain words (no `[Errno N]`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.test_export_faults import mounted_tmpfs


def run(*args: str | os.PathLike[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "photosort", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_one_plain_line(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 1, proc.stdout
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    for bad in ("Errno", "Traceback", "File exists", "unexpected error"):
        assert bad not in proc.stderr
    for word in words:
        assert word in proc.stderr


@pytest.mark.parametrize("where", ["sorted", "", "link"])
def test_export_into_the_folder_being_sorted_is_refused(
    photo_folder: Path, tmp_path: Path, db_path: Path, where: str
) -> None:
    before = sorted(p.name for p in photo_folder.rglob("*"))
    if where == "link":  # a link elsewhere that leads into the folder
        target = tmp_path / "elsewhere"
        target.symlink_to(photo_folder)
        target = target / "sorted"
    else:
        target = photo_folder / where if where else photo_folder
    proc = run("export", photo_folder, "--like", photo_folder / "p00.jpg", "--to", target,
               "--db", db_path)  # fmt: skip
    assert_one_plain_line(proc, "folder being sorted", "choose a folder outside it")
    assert sorted(p.name for p in photo_folder.rglob("*")) == before  # nothing written
    assert not db_path.exists()  # refused before any indexing


def test_export_to_a_file_and_without_an_extension(
    photo_folder: Path, tmp_path: Path, db_path: Path
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    ref = photo_folder / "p00.jpg"
    proc = run("export", photo_folder, "--like", ref, "--to", blocker, "--db", db_path)
    assert_one_plain_line(proc, "is a file, not a folder")

    out = tmp_path / "out"
    proc = run("export", photo_folder, "--like", ref, "--to", out, "--pattern", "{rank:04d}",
               "--db", db_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    names = sorted(os.listdir(out))
    assert names[:3] == ["0001.jpg", "0002.jpg", "0003.jpg"]
    assert len(names) == 13 and names[-1] == "photosort-export.csv"


def test_map_to_a_place_it_cannot_write(photo_folder: Path, tmp_path: Path, db_path: Path):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    proc = run("map", photo_folder, "--quick", "--out", blocker / "map.png", "--db", db_path)
    assert_one_plain_line(proc, "cannot write", "no folder")
    assert not db_path.exists()  # told before indexing, not after minutes of work

    ro = tmp_path / "ro"
    with mounted_tmpfs(ro, "size=1m,ro") as mounted:
        if not mounted:
            pytest.skip("cannot mount a read-only tmpfs here")
        proc = run("map", photo_folder, "--quick", "--out", ro / "map.png", "--db", db_path)
    assert_one_plain_line(proc, "cannot write", "Read-only file system")


def test_the_readme_tells_the_truth_about_db() -> None:
    """The README says which subcommands take --db; each of them does."""
    from photosort.cli import _command_modules, build_parser

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "`index`, `sort`, `export`, `latents` and `map` take `--db PATH`" in readme
    parser = build_parser(_command_modules())
    sub = next(a for a in parser._actions if a.dest == "command")
    for name in ("index", "sort", "export", "latents", "map"):
        assert "--db" in sub.choices[name].format_help()
    for word in ("photosort map", "photosort eval", "photosort train", "--arrange"):
        assert word in readme
