"""Compiling the map's UMAP kernels in the background, so the first map does not wait for it.

On a fresh install the first UMAP layout spent 40-47 s (over 100 s on a busy machine) in
numba's compiler before drawing anything. After the first indexing run the window starts
`MapWarmUp`: a child process at low priority runs `projection.warm_up()` (a small fit of random
vectors), which fills numba's on-disk cache; every later map, in this run of the app or the
next, loads the compiled kernels instead. If the user opens the map before that has finished,
the map says "preparing the map (first time only, about a minute)" meanwhile.

Why a process: numba's compiler is Python code holding the GIL for long stretches; in a thread
of the app it would make the grid stutter, and a thread cannot be stopped: quitting the bundle
while it compiled froze the window for 5 s and left the process running, windowless, for about
a minute more. So the frozen bundle spawns it too (its entry point calls
`multiprocessing.freeze_support()`, which makes the bundle's executable act as the child).
PHOTOSORT_INDEX_PROCESS=0 runs it in a worker thread instead (never on the GUI thread).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, QThreadPool, Signal

from photosort.core.jobs import CancelToken
from photosort.ui.index_process import PROCESS_ENV
from photosort.ui.workers import TaskHandle, run_task

log = logging.getLogger("photosort.ui.map")

#: PHOTOSORT_MAP_WARMUP=0 turns the warm-up off (the test suite: every test has a fresh cache,
#: and a minute of compiling per test window would only load the machine).
WARMUP_ENV = "PHOTOSORT_MAP_WARMUP"


def warm_up_in_process() -> bool:
    """A child process (also in the frozen bundle: see the module docstring), unless
    PHOTOSORT_INDEX_PROCESS=0 asks for threads."""
    return os.environ.get(PROCESS_ENV, "1") != "0"


def _default_target() -> None:
    from photosort.core.projection import warm_up

    warm_up()


def _warm_child(target: Callable[[], None]) -> None:
    with contextlib.suppress(OSError, AttributeError):
        os.nice(15)  # background work yields the CPU to the app and everything else
    target()


#: Clear while a warm-up runs (any window of this process): a map that needs a UMAP fit waits
#: for it (`wait_for_warm_up`) instead of compiling the same kernels on a thread of the app.
_idle = threading.Event()
_idle.set()
POLL_SECONDS = 0.2


#: Held while a warm-up child compiles (the window's or a map's own): never two at once.
_compile_lock = threading.Lock()
#: What a map's own warm-up child runs (see `wait_for_warm_up`); module-level, for the tests.
map_child_target: Callable[[], None] = _default_target


def wait_for_warm_up(cancel: CancelToken | None = None) -> None:
    """Worker side, just before a map's UMAP fit: return once umap's kernels will not be
    compiled on this thread (or raise Cancelled).

    A warm-up running (`MapWarmUp`, after the first index): wait for it. None ran yet (the
    map was opened while the first index ran) and the kernels are cold: compile them in a
    child process here. On a thread of the app the compile could not be stopped: quitting
    then left the process running, windowless, until numba was done (15-30 s measured on the
    bundle); a child is terminated as soon as the map is cancelled.
    """
    while not _idle.wait(POLL_SECONDS):
        if cancel is not None:
            cancel.raise_if_cancelled()
    # Checked once more: closing the app cancels the map, then stops the warm-up, which ends
    # this wait; the map must not go on to import umap and compile on a thread of the app.
    if cancel is not None:
        cancel.raise_if_cancelled()
    if os.environ.get(WARMUP_ENV, "1") == "0" or not warm_up_in_process():
        return  # asked for no warm-up (the test suite) or for threads: the fit compiles
    if not umap_available() or already_warm():
        return

    def stop() -> bool:
        return cancel is not None and cancel.cancelled

    code = _compile_in_child(map_child_target, stop)
    if cancel is not None:
        cancel.raise_if_cancelled()
    if code not in (None, 0):
        log.warning("the map's warm-up stopped with exit code %s: it compiles here", code)


def _compile_in_child(target: Callable[[], None], stop: Callable[[], bool]) -> int | None:
    """Run ``target`` (numba's compile) in a child process, one at a time (the window's
    warm-up and a map's own), unless the kernels are warm by then or ``stop()`` says so; the
    child is terminated as soon as ``stop()`` turns true. Its exit code, or None when none ran.
    """
    while not _compile_lock.acquire(timeout=POLL_SECONDS):
        if stop():
            return None
    try:
        if stop() or already_warm():  # the other compile may have finished meanwhile
            return None
        proc = _spawn(target)
        while proc.exitcode is None:
            proc.join(POLL_SECONDS)
            if stop() and proc.exitcode is None:
                proc.terminate()
                proc.join(5)
        return proc.exitcode
    finally:
        _compile_lock.release()


def _spawn(target: Callable[[], None]) -> mp.process.BaseProcess:
    ctx = mp.get_context("spawn")  # never fork a process that runs Qt threads
    proc = ctx.Process(target=_warm_child, args=(target,), name="photosort-map-warm-up",
                       daemon=True)  # fmt: skip
    proc.start()
    return proc


def umap_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("umap") is not None


def already_warm() -> bool:
    from photosort.core.projection import umap_is_warm

    return umap_is_warm()


class MapWarmUp(QObject):
    """Runs the warm-up at most once per app run; `finished(ok)` when it is over."""

    started = Signal()
    finished = Signal(bool)

    def __init__(self, target: Callable[[], None] = _default_target, parent=None) -> None:
        """`target` must be a module-level function (it is handed to a spawned process)."""
        super().__init__(parent)
        self.target = target
        self.pool = QThreadPool(self)  # its own thread: a minute of waiting blocks no other pool
        self.pool.setMaxThreadCount(1)
        self._handle: TaskHandle | None = None
        self._tried = False
        #: Set by `shutdown`: the job then terminates its child (within POLL_SECONDS), whose
        #: exit code (-SIGTERM) is expected, not a failure to log.
        self._stopping = False

    @property
    def running(self) -> bool:
        return self._handle is not None and not self._handle.finished

    def start(self) -> bool:
        """Start warming up unless done before, already warm, or umap is not installed."""
        if self._tried or os.environ.get(WARMUP_ENV, "1") == "0":
            return False
        self._tried = True
        target = self.target
        # Running from now on, not from when the job gets to it: a map started right after
        # (the window reloads it when the same index finishes) waits instead of compiling the
        # same kernels on a thread of the app, which nothing could stop at quit.
        _idle.clear()

        def job() -> bool:
            try:
                # Checked here, not on the GUI thread: it reads a file and imports metadata.
                if not umap_available() or already_warm():
                    return False
                if not warm_up_in_process():
                    target()
                    return True
                code = _compile_in_child(target, lambda: self._stopping)
                if code is None:
                    return False
                if code != 0 and self._stopping:
                    log.info("map warm-up stopped: the app is closing (it resumes next time)")
                    return False
                if code != 0:
                    raise RuntimeError(f"the map warm-up stopped with exit code {code}")
                return True
            finally:
                _idle.set()

        def done(ran: bool) -> None:
            self.finished.emit(ran)

        def failed(message: str) -> None:
            log.warning("map warm-up failed: %s (the first map compiles instead)", message)
            self.finished.emit(False)

        self._handle = run_task(job, done, failed, pool=self.pool)
        self.started.emit()
        return True

    def shutdown(self) -> None:
        """Stop a warm-up in flight (closing the app); numba's cache stays consistent."""
        self._stopping = True
        if self._handle is not None:
            self._handle.discard()
        self.pool.waitForDone(5000)
