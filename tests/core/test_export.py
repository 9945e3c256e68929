import errno
import hashlib
import os
from pathlib import Path

import pytest

from photosort.core import export
from photosort.core.errors import ExportError
from photosort.core.export import (
    ExportItem,
    plan_export,
    render_name,
    run_export,
    validate_pattern,
)
from photosort.core.jobs import CancelToken


def digests(folder: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*.jpg"))
    }


def items(folder: Path) -> list[ExportItem]:
    return [ExportItem(str(p), i / 10) for i, p in enumerate(sorted(folder.rglob("*.jpg")))]


def test_export_copies_in_order_with_manifest_and_leaves_originals(
    photo_folder: Path, tmp_path: Path
) -> None:
    before = digests(photo_folder)
    mtimes = {p: os.stat(p).st_mtime_ns for p in before}
    target = tmp_path / "out"
    plan = plan_export(items(photo_folder), str(target))
    report = run_export(plan, str(target))
    assert [c.name for c in report.copied][:2] == ["0001_p00.jpg", "0002_p01.jpg"]
    assert sorted(os.listdir(target)) == sorted([c.name for c in plan] + ["photosort-export.csv"])
    for c in report.copied:
        assert (target / c.name).read_bytes() == Path(c.source).read_bytes()
    manifest = (target / "photosort-export.csv").read_text().splitlines()
    assert manifest[0] == "rank,original_path,new_name,distance"
    assert manifest[1].startswith(f"1,{photo_folder / 'p00.jpg'},0001_p00.jpg,0.0")
    assert digests(photo_folder) == before
    assert {p: os.stat(p).st_mtime_ns for p in before} == mtimes


def test_existing_files_are_never_overwritten(photo_folder: Path, tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "0001_p00.jpg").write_bytes(b"precious")
    (target / "photosort-export.csv").write_text("older manifest")
    report = run_export(plan_export(items(photo_folder)[:2], str(target)), str(target))
    assert (target / "0001_p00.jpg").read_bytes() == b"precious"
    assert (target / "photosort-export.csv").read_text() == "older manifest"
    assert report.copied[0].name == "0001_p00 (2).jpg"
    assert report.manifest.endswith("photosort-export (2).csv")


def test_file_appearing_during_export_is_not_overwritten(photo_folder: Path, tmp_path: Path):
    target = tmp_path / "out"
    plan = plan_export(items(photo_folder)[:1], str(target))
    target.mkdir()
    (target / plan[0].name).write_bytes(b"arrived after planning")
    report = run_export(plan, str(target))
    assert (target / plan[0].name).read_bytes() == b"arrived after planning"
    assert report.copied[0].name == "0001_p00 (2).jpg"


def test_collisions_within_the_plan_get_unique_names(photo_folder: Path, tmp_path: Path):
    plan = plan_export(items(photo_folder), str(tmp_path / "o"), "{name}")
    names = [p.name for p in plan]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize(
    "pattern", ["../{name}", "/etc/{name}", "a/{name}", "{rank}/..", "..", "{nope}", "", "{name"]
)
def test_unsafe_or_broken_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(ExportError):
        validate_pattern(pattern)


def test_pattern_fields() -> None:
    item = ExportItem("/photos/trip/IMG_1.JPG", 0.25)
    assert render_name("{rank:03d}-{stem}{ext}", 7, item) == "007-IMG_1.JPG"
    assert render_name("{folder}_{distance:.2f}_{name}", 1, item) == "trip_0.25_IMG_1.JPG"


def test_cancel_midway_leaves_no_partial_file(photo_folder: Path, tmp_path: Path) -> None:
    target = tmp_path / "out"
    token = CancelToken()

    def progress(p):
        if p.done == 3:
            token.cancel()

    report = run_export(plan_export(items(photo_folder), str(target)), str(target), progress, token)
    assert report.cancelled and len(report.copied) == 3
    left = sorted(os.listdir(target))
    assert left == sorted([c.name for c in report.copied] + ["photosort-export.csv"])


def test_disk_full_is_a_clear_error_without_partial_files(
    photo_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out"
    plan = plan_export(items(photo_folder), str(target))
    real_fsync = os.fsync
    calls = {"n": 0}

    def full_disk(fd):  # the third copy hits a full disk at the OS boundary
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(export.os, "fsync", full_disk)
    before = digests(photo_folder)
    with pytest.raises(ExportError, match="disk is full"):
        run_export(plan, str(target))
    assert not [n for n in os.listdir(target) if n.startswith(".photosort-partial")]
    assert sorted(os.listdir(target)) == sorted(
        [plan[0].name, plan[1].name, "photosort-export.csv"]
    )
    assert digests(photo_folder) == before


def test_unwritable_target(tmp_path: Path, photo_folder: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ExportError, match="cannot create|not a folder"):
        run_export(plan_export(items(photo_folder), str(blocker / "sub")), str(blocker / "sub"))


def test_stale_partials_from_a_killed_export_are_removed(photo_folder: Path, tmp_path: Path):
    target = tmp_path / "out"
    target.mkdir()
    (target / ".photosort-partial-deadbeef").write_bytes(b"half a photo")
    run_export(plan_export(items(photo_folder)[:1], str(target)), str(target))
    assert not [n for n in os.listdir(target) if n.startswith(".photosort-partial")]
