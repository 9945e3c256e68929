"""Export faults: unwritable target, full disk, name collisions and cancelling midway. Each ends
with a clear message, no partial file, and originals byte-identical."""

from __future__ import annotations

import builtins
import errno
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from photosort.cli import main
from photosort.core import export
from photosort.core.errors import ExportError
from photosort.core.export import ExportItem, plan_export, run_export
from photosort.core.jobs import CancelToken
from tests import paused_cli
from tests.conftest import make_photo
from tests.reliability.helpers import cli, sha256, tree_digests

PARTIAL = ".photosort-partial-"
MANIFEST = "photosort-export.csv"


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """12 photos of ~200 KB (noise after the image keeps them big but valid)."""
    folder = tmp_path / "photos"
    rng = np.random.default_rng(5)
    for i in range(12):
        path = make_photo(folder / f"p{i:02d}.jpg", 60 + i)
        path.write_bytes(path.read_bytes() + rng.bytes(200_000))
    return folder


def _items(folder: Path) -> list[ExportItem]:
    return [ExportItem(str(p), i / 10) for i, p in enumerate(sorted(folder.rglob("*.jpg")))]


def _assert_only_complete_copies(target: Path, originals: dict[str, str]) -> list[str]:
    """No temporary left; every photo in `target` is a whole copy of an original."""
    names = os.listdir(target) if target.exists() else []
    assert not [n for n in names if n.startswith(PARTIAL)], names
    complete = set(originals.values())
    photos = [n for n in names if not n.startswith("photosort-export")]
    for name in photos:
        assert sha256(target / name) in complete, f"{name} is not a complete copy"
    return photos


def _manifest_names(path: Path) -> list[str]:
    return [line.split(",")[2] for line in path.read_text().splitlines()[1:]]


# -- target not writable -----------------------------------------------------------------------


@pytest.fixture
def deny_writes_under(monkeypatch: pytest.MonkeyPatch):
    """Make opening files for writing below a folder fail, as a read-only folder does."""
    state: dict = {"folder": None, "after": 0, "error": errno.EACCES}
    real_open = builtins.open

    def guarded_open(file, mode="r", *args, **kwargs):
        folder = state["folder"]
        if (
            folder is not None
            and isinstance(file, str | os.PathLike)
            and os.fspath(file).startswith(folder + os.sep)
            and any(c in mode for c in "wxa+")
        ):
            if state["after"] <= 0:
                raise OSError(state["error"], os.strerror(state["error"]), os.fspath(file))
            state["after"] -= 1
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    return state


def test_unwritable_target_through_the_command_line(
    photos: Path,
    tmp_path: Path,
    deny_writes_under: dict,
    capsys: pytest.CaptureFixture[str],
) -> None:
    originals = tree_digests(photos)
    target = tmp_path / "readonly"
    target.mkdir()
    deny_writes_under["folder"] = str(target)
    code = main(["export", str(photos), "--like", str(photos / "p00.jpg"), "--to", str(target)])
    err = capsys.readouterr().err
    assert code == 1
    assert err == f"photosort: cannot write to {target}: Permission denied\n"
    assert os.listdir(target) == []
    assert tree_digests(photos) == originals


def test_target_becoming_unwritable_midway(
    photos: Path, tmp_path: Path, deny_writes_under: dict
) -> None:
    originals = tree_digests(photos)
    target = tmp_path / "out"
    plan = plan_export(_items(photos), str(target))
    deny_writes_under.update(folder=str(target), after=4, error=errno.EROFS)  # probe + 3 copies
    with pytest.raises(ExportError) as exc:
        run_export(plan, str(target))
    assert str(exc.value).startswith("cannot ")
    assert "Read-only file system" in str(exc.value)
    copied = _assert_only_complete_copies(target, originals)
    assert sorted(copied) == [p.name for p in plan[:3]]
    assert tree_digests(photos) == originals


@contextmanager
def mounted_tmpfs(where: Path, options: str) -> Iterator[bool]:
    """A real tmpfs at `where` when the test may mount (root, with CAP_SYS_ADMIN)."""
    where.mkdir(parents=True, exist_ok=True)
    if os.environ.get("PHOTOSORT_TEST_NO_MOUNT"):  # exercise the injected fallback
        yield False
        return
    try:
        ok = (
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                capture_output=True,
                timeout=20,
            ).returncode
            == 0
        )
    except (OSError, subprocess.SubprocessError):
        ok = False
    try:
        yield ok
    finally:
        if ok:
            subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=20)


def test_read_only_file_system_target(photos: Path, tmp_path: Path, db_path: Path) -> None:
    target = tmp_path / "ro"
    with mounted_tmpfs(target, "size=1m,ro") as mounted:
        if not mounted:
            pytest.skip("cannot mount a tmpfs here; the injected variants cover this")
        proc = cli(
            "export", photos, "--like", photos / "p00.jpg", "--to", target, "--db", db_path,
            check=False,
        )  # fmt: skip
        assert proc.returncode == 1
        assert proc.stderr.decode() == (
            f"photosort: cannot write to {target}: Read-only file system\n"
        )


# -- disk full -------------------------------------------------------------------------------


class _FullDisk:
    """A file whose writes fail with ENOSPC once `budget` bytes are used up."""

    def __init__(self, fh, state: dict) -> None:
        self._fh, self._state = fh, state

    def write(self, data) -> int:
        if self._state["budget"] < len(data):
            raise OSError(errno.ENOSPC, "No space left on device")
        self._state["budget"] -= len(data)
        return self._fh.write(data)

    def __getattr__(self, name: str):
        return getattr(self._fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._fh.close()


@contextmanager
def small_disk(where: Path, monkeypatch: pytest.MonkeyPatch, size: int) -> Iterator[str]:
    """A target folder with `size` bytes free: a real tmpfs if we can mount one, else ENOSPC
    injected at the file-write boundary."""
    with mounted_tmpfs(where, f"size={size}") as mounted:
        if mounted:
            yield "tmpfs"
            return
        state = {"budget": size}
        real_open = builtins.open

        def limited_open(file, mode="r", *args, **kwargs):
            fh = real_open(file, mode, *args, **kwargs)
            inside = isinstance(file, str | os.PathLike) and os.fspath(file).startswith(
                str(where) + os.sep
            )
            return _FullDisk(fh, state) if inside and "x" in mode else fh

        with monkeypatch.context() as m:
            m.setattr(builtins, "open", limited_open)
            yield "injected"


@pytest.mark.parametrize("how", ["core", "cli"])
def test_disk_full(
    photos: Path, tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    originals = tree_digests(photos)
    target = tmp_path / "small"
    with small_disk(target, monkeypatch, 1024 * 1024) as kind:  # room for ~4 of 12 photos
        if how == "core":
            with pytest.raises(ExportError) as exc:
                run_export(plan_export(_items(photos), str(target)), str(target))
            message = str(exc.value)
        elif kind == "tmpfs":
            proc = cli(
                "export", photos, "--like", photos / "p00.jpg", "--to", target,
                "--db", db_path, check=False,
            )  # fmt: skip
            assert proc.returncode == 1
            message = proc.stderr.decode()
            assert len(message.strip().splitlines()) == 1
        else:  # in-process command line, so that the injection applies
            capsys_err = _run_main_capturing(
                ["export", str(photos), "--like", str(photos / "p00.jpg"), "--to", str(target)]
            )
            message = capsys_err
        assert f"the disk is full: {target}" in message or (
            "cannot write the export manifest: No space left on device" in message
        ), message
        copied = _assert_only_complete_copies(target, originals)
        assert 1 <= len(copied) < 12
        manifests = [n for n in os.listdir(target) if n.startswith("photosort-export")]
        for m in manifests:  # a manifest, if there was room for it, lists exactly the copies
            assert sorted(_manifest_names(target / m)) == sorted(copied)
    assert tree_digests(photos) == originals


def _run_main_capturing(argv: list[str]) -> str:
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(argv)
    assert code == 1
    return err.getvalue()


# -- name collisions -------------------------------------------------------------------------


def test_name_collisions_never_overwrite_anything(photos: Path, tmp_path: Path) -> None:
    # Same file names in different folders, a pattern that gives every photo the same name,
    # and a target that already holds those names (in another case, and as a folder).
    for i in range(3):
        make_photo(photos / f"sub{i}" / "p00.jpg", 200 + i)
    originals = tree_digests(photos)
    target = tmp_path / "out"
    target.mkdir()
    (target / "P00.JPG").write_bytes(b"mine")
    (target / "p00 (2).jpg").write_bytes(b"mine too")
    (target / "p00 (3).jpg").mkdir()
    items = [ExportItem(str(p)) for p in sorted(photos.rglob("p00.jpg"))]
    report = run_export(plan_export(items, str(target), "{name}"), str(target))
    names = [c.name for c in report.copied]
    assert names == ["p00 (4).jpg", "p00 (5).jpg", "p00 (6).jpg", "p00 (7).jpg"]
    for c in report.copied:
        assert sha256(target / c.name) == sha256(c.source)
    assert (target / "P00.JPG").read_bytes() == b"mine"
    assert (target / "p00 (2).jpg").read_bytes() == b"mine too"
    assert (target / "p00 (3).jpg").is_dir()
    constant = run_export(
        plan_export(_items(photos)[:3], str(target / "same"), "photo.jpg"), str(target / "same")
    )
    assert [c.name for c in constant.copied] == ["photo.jpg", "photo (2).jpg", "photo (3).jpg"]
    assert tree_digests(photos) == originals


def test_exporting_twice_to_the_same_folder(photos: Path, tmp_path: Path, db_path: Path) -> None:
    originals = tree_digests(photos)
    target = tmp_path / "out"
    args = ("export", photos, "--like", photos / "p03.jpg", "--to", target, "--db", db_path)
    cli(*args)
    first = {n: (sha256(target / n), os.stat(target / n).st_mtime_ns) for n in os.listdir(target)}
    cli(*args)
    for name, (digest, mtime) in first.items():  # untouched
        assert (sha256(target / name), os.stat(target / name).st_mtime_ns) == (digest, mtime)
    names = os.listdir(target)
    assert len(names) == 2 * len(first)
    assert "0001_p03 (2).jpg" in names and "photosort-export (2).csv" in names
    assert _manifest_names(target / "photosort-export (2).csv")[0] == "0001_p03 (2).jpg"
    _assert_only_complete_copies(target, originals)
    assert tree_digests(photos) == originals


def test_name_too_long_for_the_file_system(photos: Path, tmp_path: Path) -> None:
    originals = tree_digests(photos)
    target = tmp_path / "out"
    long_pattern = "x" * 300 + "{ext}"
    with pytest.raises(ExportError, match="cannot copy .*: File name too long"):
        run_export(plan_export(_items(photos), str(target), long_pattern), str(target))
    _assert_only_complete_copies(target, originals)
    assert os.listdir(target) == []
    assert tree_digests(photos) == originals


# -- cancel midway -----------------------------------------------------------------------------


class _CancelOnNthCheck(CancelToken):
    """Cancels itself the n-th time the export looks at it: inside a file's copy loop."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    @property
    def cancelled(self) -> bool:
        self.n -= 1
        if self.n <= 0:
            self.cancel()
        return super().cancelled


@pytest.mark.parametrize("nth", [1, 2, 5, 8])
def test_cancel_in_the_middle_of_a_file(photos: Path, tmp_path: Path, nth: int, monkeypatch):
    monkeypatch.setattr(export, "_CHUNK", 64 * 1024)  # several chunks per photo
    originals = tree_digests(photos)
    target = tmp_path / "out"
    report = run_export(
        plan_export(_items(photos), str(target)), str(target), cancel=_CancelOnNthCheck(nth)
    )
    assert report.cancelled
    copied = _assert_only_complete_copies(target, originals)
    assert sorted(copied) == sorted(c.name for c in report.copied)
    if report.copied:
        assert _manifest_names(target / MANIFEST) == [c.name for c in report.copied]
    assert tree_digests(photos) == originals


@pytest.mark.parametrize("when", [1, 2, 5])
def test_ctrl_c_inside_a_temporarys_cleanup_leaves_no_temporary(
    photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: int
):
    """A Ctrl-C can land just before a temporary is removed (a window of microseconds that the
    real-signal test below hit once): the KeyboardInterrupt is raised there, at the `when`-th
    removal (1: the write test of the target folder, then one per copy), and still nothing is
    left behind."""
    originals = tree_digests(photos)
    target = tmp_path / "out"
    real_remove = os.remove
    removals = 0

    def interrupted_remove(path: str) -> None:
        nonlocal removals
        if os.path.basename(path).startswith(PARTIAL):
            removals += 1
            if removals == when:
                raise KeyboardInterrupt
        real_remove(path)

    plan = plan_export(_items(photos), str(target))
    monkeypatch.setattr(export.os, "remove", interrupted_remove)
    with pytest.raises(KeyboardInterrupt):
        run_export(plan, str(target))
    monkeypatch.undo()
    copied = _assert_only_complete_copies(target, originals)
    assert len(copied) == when - 1  # the interrupted copy was published before its cleanup
    assert tree_digests(photos) == originals


def test_a_failed_cleanup_does_not_hide_why_the_export_failed(
    photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The disk fills mid-copy and removing the temporary fails too (an antivirus holding it, a
    read-only remount): the user still reads "the disk is full", not an unexpected OSError."""
    target = tmp_path / "out"
    plan = plan_export(_items(photos), str(target))

    def full_disk(src: str, dst: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    def cannot_remove(path: str) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", path)

    monkeypatch.setattr(export.shutil, "copystat", full_disk)
    monkeypatch.setattr(export.os, "remove", cannot_remove)
    with pytest.raises(ExportError, match="the disk is full"):
        run_export(plan, str(target))
    monkeypatch.undo()
    # What could not be removed then is removed by the next export, before it copies anything.
    leftovers = [n for n in os.listdir(target) if n.startswith(PARTIAL)]
    assert leftovers
    run_export(plan_export(_items(photos)[:1], str(target)), str(target))
    assert not [n for n in os.listdir(target) if n.startswith(PARTIAL)]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("nth", "when"), [(1, "before"), (2, "after"), (4, "before"), (6, "after")]
)
def test_ctrl_c_during_a_command_line_export(
    photos: Path, tmp_path: Path, db_path: Path, nth: int, when: str
):
    """Ctrl+C lands at a chosen point of the copy loop: the child stops there (tests.paused_cli)
    until the signal arrives, so a busy machine cannot let the export finish first."""
    originals = tree_digests(photos)
    ref = photos / "p00.jpg"
    cli("index", photos, "--db", db_path)
    target = tmp_path / "out"
    ready = tmp_path / "ready"
    proc = paused_cli.popen(
        "export-publish", nth, when, ready,
        "export", photos, "--like", ref, "--to", target, "--db", db_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    paused_cli.wait_ready(proc, ready)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate()
    assert proc.returncode == 130, err
    assert err.decode() == "photosort: interrupted\n"
    copied = _assert_only_complete_copies(target, originals)
    # Before the n-th copy got its name: n - 1 copies; after: n.
    assert len(copied) == (nth - 1 if when == "before" else nth)
    assert tree_digests(photos) == originals
