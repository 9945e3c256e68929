"""Where an export may go: never into the folder being sorted (issue 15, item 1), a target that
is a file is refused in plain words, and a pattern without an extension keeps the photo's."""

import os
from pathlib import Path

import pytest

from photosort.core.errors import ExportError, plain_reason
from photosort.core.export import (
    ExportItem,
    check_target_outside,
    plan_export,
    render_name,
    run_export,
    target_problem,
)
from photosort.core.files import scan_folder
from tests.conftest import make_photo


@pytest.mark.parametrize("sub", ["", "sorted", "sorted/deeper"])
def test_a_target_inside_the_folder_being_sorted_is_refused(tmp_path: Path, sub: str) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    target = folder / sub if sub else folder
    with pytest.raises(ExportError) as exc:
        check_target_outside(str(target), [str(folder)])
    message = str(exc.value)
    assert "folder being sorted" in message and "\n" not in message
    assert target_problem(str(target), [str(folder)]) is not None


def test_a_link_into_the_folder_being_sorted_is_refused_too(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    (folder / "inner").mkdir(parents=True)
    link = tmp_path / "looks-elsewhere"
    link.symlink_to(folder / "inner")
    with pytest.raises(ExportError, match="folder being sorted"):
        check_target_outside(str(link / "new"), [str(folder)])
    # ...and the folder being sorted reached through a link.
    alias = tmp_path / "alias"
    alias.symlink_to(folder)
    with pytest.raises(ExportError, match="folder being sorted"):
        check_target_outside(str(folder / "out"), [str(alias)])


def test_a_sibling_with_a_longer_name_is_fine(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    check_target_outside(str(tmp_path / "photos2"), [str(folder)])
    check_target_outside(str(tmp_path), [str(folder)])  # the parent folder is outside it
    assert target_problem(str(tmp_path / "photos2"), [str(folder)]) is None


def test_export_folders_below_the_scanned_folder_are_not_scanned(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    for i in range(3):
        make_photo(folder / f"p{i}.jpg", seed=i)
    items = [ExportItem(str(folder / f"p{i}.jpg"), 0.0) for i in range(3)]
    # An older version's export into the folder itself (or a copy of an export moved there).
    old_export = folder / "sorted"
    run_export(plan_export(items, str(old_export)), str(old_export))
    # A user's own CSV of the same name does not hide their photos.
    mine = folder / "mine"
    make_photo(mine / "x.jpg", seed=9)
    (mine / "photosort-export.csv").write_text("my,own,columns\n")

    result = scan_folder(folder)
    names = sorted(os.path.relpath(e.path, folder) for e in result.files)
    assert names == ["mine/x.jpg", "p0.jpg", "p1.jpg", "p2.jpg"]
    assert result.export_folders == [str(old_export)]
    # The export folder opened on its own shows its copies.
    assert len(scan_folder(old_export).files) == 3


def test_a_target_that_is_a_file_is_refused_in_plain_words(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "a.jpg", seed=1)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    plan = plan_export([ExportItem(str(photo))], str(blocker))
    with pytest.raises(ExportError) as exc:
        run_export(plan, str(blocker))
    assert "is a file, not a folder" in str(exc.value)
    assert "Errno" not in str(exc.value) and "File exists" not in str(exc.value)
    with pytest.raises(ExportError) as exc:
        run_export(plan, str(blocker / "sub"))
    assert "Errno" not in str(exc.value) and "File exists" not in str(exc.value)


@pytest.mark.parametrize(
    ("pattern", "source", "expected"),
    [
        ("{rank:04d}", "/x/IMG_1.JPG", "0007.JPG"),
        ("{rank}-{distance:.3f}", "/x/a.png", "7-0.250.png"),
        ("{rank:04d}_{name}", "/x/a.jpg", "0007_a.jpg"),
        ("{stem}.jpeg", "/x/a.jpg", "a.jpeg"),
    ],
)
def test_a_name_without_a_photo_extension_keeps_the_original_one(
    pattern: str, source: str, expected: str
) -> None:
    assert render_name(pattern, 7, ExportItem(source, 0.25)) == expected


def test_plain_reasons_have_no_errno() -> None:
    import errno

    for code in (errno.EACCES, errno.EROFS, errno.ENOSPC, errno.EEXIST, errno.ENOTDIR):
        text = plain_reason(OSError(code, os.strerror(code)))
        assert "Errno" not in text and "File exists" not in text and text


def test_unexpected_disk_errors_are_described_in_words() -> None:
    import errno

    from photosort.core.errors import describe

    text = describe(PermissionError(errno.EACCES, "Permission denied", "/x/y.jpg"))
    assert text == "Permission denied: /x/y.jpg"
    assert describe(FileExistsError(errno.EEXIST, "File exists", "/t")).startswith(
        "a file with that name is in the way"
    )
    assert describe(ValueError("odd")) == "ValueError: odd"
