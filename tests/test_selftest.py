"""`photosort --selftest` (photosort.selftest.run_selftest) passes and prints every check."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from photosort import selftest

REPO = Path(__file__).resolve().parent.parent


def _clean_env(home: Path) -> dict[str, str]:
    """A child environment whose every user folder is a temporary one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PHOTOSORT_", "XDG_"))}
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_CONFIG_HOME=str(home / "config"),
        QT_QPA_PLATFORM="offscreen",
    )
    env.pop(selftest.FULL_ENV, None)
    return env


def _run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        env=_clean_env(home),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_selftest_in_a_subprocess_passes_and_prints_every_check(tmp_path: Path) -> None:
    """`python -m photosort --selftest` (cli -> run_selftest()) in a fresh process whose user
    folders are temporary ones."""
    proc = _run(["-m", "photosort", "--selftest"], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    for name in selftest.CHECKS:
        assert any(line.startswith(f"OK   {name} ") for line in lines), (name, proc.stdout)
    assert "FAIL" not in proc.stdout
    assert "self-test passed" in proc.stdout
    assert "propagateSizeHints" not in proc.stderr
    assert "the near copy is grouped with the reference" in proc.stdout
    if sys.platform.startswith("linux"):
        assert "InotifyObserver saw a photo added" in proc.stdout
        assert "a copy moved to a temporary freedesktop.org trash" in proc.stdout
    # Nothing of the "user's" was written: no database, settings or data folder.
    assert not (tmp_path / "data").exists()
    assert not list(tmp_path.rglob("*.sqlite3"))
    assert not list(tmp_path.rglob("*.ini")) and not list(tmp_path.rglob("*.conf"))


def test_python_m_photosort_version(tmp_path: Path) -> None:
    version = _run(["-m", "photosort", "--version"], tmp_path)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("PhotoSort ")


def test_a_failing_check_is_reported_and_fails_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """A broken step prints FAIL, the checks that need it say why they did not run, the others
    still run, and the exit status is 1."""

    def broken(ctx: selftest.Context) -> str:
        raise RuntimeError("no encoder for you")

    monkeypatch.setitem(selftest.CHECK_FUNCTIONS, "encoders", broken)
    monkeypatch.setitem(selftest.CHECK_FUNCTIONS, "qt", lambda ctx: "skipped in this test")
    monkeypatch.setitem(selftest.CHECK_FUNCTIONS, "window", lambda ctx: "skipped in this test")
    out = io.StringIO()
    assert selftest.run_selftest(out=out, full=False, isolate_qt_settings=False) == 1
    text = out.getvalue()
    assert "FAIL encoders   RuntimeError: no encoder for you" in text
    assert "FAIL index      not run: encoders failed" in text
    assert "FAIL sort       not run: index failed" in text
    assert "OK   paths" in text and "OK   photos" in text
    assert "self-test FAILED" in text


def test_missing_ui_fails_only_the_window_check(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = selftest.importlib.import_module

    def no_ui(name: str, package: str | None = None):
        if name == "photosort.ui.app":
            raise ModuleNotFoundError("No module named 'photosort.ui.app'", name=name)
        return real_import(name, package)

    monkeypatch.setattr(selftest.importlib, "import_module", no_ui)
    monkeypatch.setitem(selftest.CHECK_FUNCTIONS, "qt", lambda ctx: "skipped in this test")
    out = io.StringIO()
    assert selftest.run_selftest(out=out, full=False, isolate_qt_settings=False) == 1
    text = out.getvalue()
    assert "FAIL window" in text and "ModuleNotFoundError" in text
    for name in ("paths", "encoders", "photos", "index", "sort"):
        assert f"OK   {name}" in text, text


def test_the_isolation_is_undone(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PHOTOSORT_DB", str(tmp_path / "mine.sqlite3"))
    with selftest._isolated(tmp_path / "t", qt_settings=False):
        assert os.environ["PHOTOSORT_DB"] != str(tmp_path / "mine.sqlite3")
    assert os.environ["PHOTOSORT_DB"] == str(tmp_path / "mine.sqlite3")


def test_the_watch_check_fails_without_the_native_observer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A bundle that lacks watchdog's inotify module gets its polling observer: the check must
    say so (the app would then see new photos late, or on some file systems never)."""
    from watchdog import observers
    from watchdog.observers.polling import PollingObserver

    if sys.platform not in selftest.NATIVE_OBSERVERS:
        pytest.skip("no native observer known for this platform")
    monkeypatch.setattr(observers, "Observer", PollingObserver)
    ctx = selftest.Context(root=tmp_path, photos=tmp_path / "photos", db=tmp_path / "db")
    ctx.reference, ctx.near_copy, ctx.paths = selftest._generate_photos(ctx.photos)
    with pytest.raises(selftest.CheckFailed, match="PollingObserver, not the native"):
        selftest.check_watch(ctx)
