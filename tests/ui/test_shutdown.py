"""Closing the app while background work runs: the work stops, and nothing is logged as a
failure (the log said "map warm-up stopped with exit code -15" and showed a "Signal source has
been deleted" traceback after quitting while the map was being prepared)."""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QThreadPool

from photosort.core.errors import Cancelled
from photosort.ui.map_warmup import MapWarmUp
from photosort.ui.workers import run_task
from tests.ui.conftest import INDEX_TIMEOUT, make_folder, open_and_index


def _problems(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        f"{r.levelname} {r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.startswith("photosort")
    ]


def test_a_task_whose_listener_was_deleted_stops_as_cancelled(qtbot, caplog):
    """At exit the app's objects are deleted while a task still runs; its next progress report
    must stop it quietly, not raise "Signal source has been deleted" into the log."""
    caplog.set_level(logging.DEBUG, logger="photosort")
    pool = QThreadPool()
    go, ended = threading.Event(), threading.Event()
    seen: list[str] = []

    def job(report) -> None:
        go.wait()
        try:
            report(1)
            seen.append("reported")
        except Cancelled:
            seen.append("cancelled")
            raise
        except Exception as exc:
            seen.append(f"{exc.__class__.__name__}: {exc}")
            raise
        finally:
            ended.set()

    handle = run_task(job, pool=pool)
    shiboken6.delete(handle.relay)  # what tearing the app down does to the task's relay
    go.set()
    assert ended.wait(INDEX_TIMEOUT / 1000)
    assert pool.waitForDone(INDEX_TIMEOUT)
    assert seen == ["cancelled"]
    assert _problems(caplog) == []


def block_until_terminated() -> None:
    """Stand-in for the UMAP warm-up: says it has started, then works until it is stopped."""
    Path(os.environ["WARMUP_STARTED"]).write_text(str(os.getpid()))
    threading.Event().wait()


def test_stopping_the_warm_up_at_exit_is_not_a_failure(qtbot, tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="photosort")
    monkeypatch.setenv("PHOTOSORT_MAP_WARMUP", "1")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))  # cold, whatever ran before
    started = tmp_path / "started.txt"
    monkeypatch.setenv("WARMUP_STARTED", str(started))
    warm = MapWarmUp(target=block_until_terminated)
    assert warm.start()
    qtbot.waitUntil(started.exists, timeout=INDEX_TIMEOUT)  # the child runs its target
    warm.shutdown()  # the app closes: the child is terminated (exit code -15)
    assert warm.pool.waitForDone(INDEX_TIMEOUT)
    assert _problems(caplog) == []
    assert any("app is closing" in r.getMessage() for r in caplog.records)


def test_closing_the_window_cancels_the_map_being_prepared(
    qtbot, make_window, tmp_path, monkeypatch, caplog
):
    """The first-ever map waits for the warm-up (a real child process here); the user quits.
    Closing cancels the map, then stops the warm-up, which ends the map's wait: the map must
    stop there, not go on to import umap and fit on a thread of the app after the window has
    gone (the process then stayed for the ~15 s of numba's work, measured on the bundle)."""
    from tests import umap_stand_in

    caplog.set_level(logging.INFO, logger="photosort")
    fits = umap_stand_in.install(monkeypatch)
    monkeypatch.setenv("PHOTOSORT_MAP_WARMUP", "1")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))  # a first-ever map
    started = tmp_path / "started.txt"
    monkeypatch.setenv("WARMUP_STARTED", str(started))
    window = make_window()
    if window.map_panel is None:
        pytest.skip("the map is not installed")
    window.map_warmup.target = block_until_terminated
    window.map_action.trigger()  # the map is shown: the first index reloads it
    view = window.map_panel.view
    open_and_index(qtbot, window, make_folder(tmp_path / "photos", 20))
    qtbot.waitUntil(started.exists, timeout=INDEX_TIMEOUT)  # the warm-up's child runs
    qtbot.waitUntil(
        lambda: "Preparing the map (first time only" in view.progress.format(),
        timeout=INDEX_TIMEOUT,
    )
    job = view._task
    window.close()  # cancels the map, terminates the warm-up (whose job then ends the wait)
    assert view._cancel is not None and view._cancel.cancelled
    assert QThreadPool.globalInstance().waitForDone(INDEX_TIMEOUT)
    qtbot.waitUntil(lambda: job.finished, timeout=INDEX_TIMEOUT)
    assert fits == []  # no UMAP fit after the window closed
    assert _problems(caplog) == []


def test_the_bundle_warms_up_in_a_process_it_can_stop(monkeypatch):
    """In a thread the warm-up could not be stopped: quitting the frozen bundle while it
    compiled froze the window for 5 s and left the process running for a minute. The bundle's
    entry point calls multiprocessing.freeze_support(), so it spawns the warm-up too."""
    from photosort.ui.map_warmup import warm_up_in_process

    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.delenv("PHOTOSORT_INDEX_PROCESS", raising=False)
    assert warm_up_in_process()
    monkeypatch.setenv("PHOTOSORT_INDEX_PROCESS", "0")  # asked for threads
    assert not warm_up_in_process()


def say_started() -> None:
    """Stand-in for the UMAP warm-up that finishes at once."""
    Path(os.environ["WARMUP_STARTED"]).write_text(str(os.getpid()))


def test_a_map_started_right_after_the_warm_up_waits_for_it(qtbot, tmp_path, monkeypatch):
    """The window starts the warm-up and reloads a visible map when the first index finishes.
    Were the map's job to reach its UMAP fit before the warm-up's job had begun, it compiled
    the same kernels on a thread of the app, which a quit cannot stop. The warm-up counts as
    running from start() on: here its job is held back by a busy pool."""
    from photosort.ui import map_warmup

    monkeypatch.setenv("PHOTOSORT_MAP_WARMUP", "1")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))  # cold, whatever ran before
    started = tmp_path / "started.txt"
    monkeypatch.setenv("WARMUP_STARTED", str(started))
    warm = MapWarmUp(target=say_started)
    gate = threading.Event()
    warm.pool.start(gate.wait)  # the warm-up's one thread is busy: its job has to queue
    try:
        assert warm.start()
        assert not map_warmup._idle.is_set()  # a map about to be fitted waits from now on
    finally:
        gate.set()
    with qtbot.waitSignal(warm.finished, timeout=INDEX_TIMEOUT) as done:
        pass
    assert done.args[0] is True and started.exists()
    assert map_warmup._idle.is_set()
    warm.shutdown()


@pytest.fixture
def first_map(qtbot, tmp_path, monkeypatch):
    """A map view that will need its first-ever UMAP fit, with no warm-up run yet (as when the
    map is opened while the first index runs); the fit itself is the counting stand-in."""
    from photosort.ui.map_view import MapView
    from tests import umap_stand_in

    fits = umap_stand_in.install(monkeypatch)
    monkeypatch.setenv("PHOTOSORT_MAP_WARMUP", "1")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))  # cold
    monkeypatch.setenv("WARMUP_STARTED", str(tmp_path / "started.txt"))
    view = MapView()
    qtbot.addWidget(view)
    view.show()
    yield view, fits
    view.shutdown()


def test_a_map_opened_before_any_warm_up_compiles_in_a_child_that_closing_stops(
    qtbot, tmp_path, monkeypatch, indexed, caplog, first_map
):
    from photosort.ui import map_warmup

    caplog.set_level(logging.INFO, logger="photosort")
    view, fits = first_map
    monkeypatch.setattr(map_warmup, "map_child_target", block_until_terminated)
    db, folder = indexed
    view.load(str(db), str(folder), "pixels-8x8", metric="euclidean")
    started = tmp_path / "started.txt"
    qtbot.waitUntil(started.exists, timeout=INDEX_TIMEOUT)  # compiling in a child process
    assert int(started.read_text()) != os.getpid()
    job = view._task
    view.shutdown()  # the app closes
    assert QThreadPool.globalInstance().waitForDone(INDEX_TIMEOUT)
    qtbot.waitUntil(lambda: job.finished, timeout=INDEX_TIMEOUT)
    assert fits == []
    assert _problems(caplog) == []


def test_after_its_own_warm_up_child_the_map_is_fitted(
    qtbot, tmp_path, monkeypatch, indexed, first_map
):
    from photosort.ui import map_warmup

    view, fits = first_map
    monkeypatch.setattr(map_warmup, "map_child_target", say_started)
    db, folder = indexed
    view.load(str(db), str(folder), "pixels-8x8", metric="euclidean")
    qtbot.waitUntil(
        lambda: view.layout_ is not None and view.layout_.method == "umap", timeout=INDEX_TIMEOUT
    )
    assert (tmp_path / "started.txt").exists()
    assert fits == [20]
