"""Indexing in a child process, driven from a worker thread.

Why a process: the indexer's decode threads and its Python glue compete with the GUI thread
for the GIL, and every Python paint call of the grid then waits for it; measured on two cores,
that made the grid stall for several hundred milliseconds at a time. In a child process the
indexer has its own interpreter, and a crash inside a native decoder costs the run, not the app.

The worker thread that calls `index_in_process` relays the child's progress and result and
forwards cancellation; the child opens its own `Store` and encoder, and runs at a lower CPU
priority. The child is started with "spawn" (forking a process that runs Qt threads is unsafe),
which re-imports the parent's main script: a script that builds the window must do so under
`if __name__ == "__main__":`, as `photosort`, `python -m photosort` and the benchmarks do.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import queue as queue_module
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from photosort.core.errors import PhotoSortError, describe
from photosort.core.indexer import IndexReport
from photosort.core.jobs import CancelToken, Progress

log = logging.getLogger("photosort.ui.index")

#: Set PHOTOSORT_INDEX_PROCESS=0 to index in the worker thread itself (debugging, profiling).
PROCESS_ENV = "PHOTOSORT_INDEX_PROCESS"
POLL_SECONDS = 0.1


def use_process() -> bool:
    """A child process, unless told otherwise. A frozen bundle re-runs its own executable for
    a spawned child, which only works when the entry point calls
    `multiprocessing.freeze_support()` first; there the default is the worker thread."""
    default = "0" if getattr(sys, "frozen", False) else "1"
    return os.environ.get(PROCESS_ENV, default) != "0"


def index_in_process(
    db_path: str,
    model_dirs: Sequence[Path],
    model_id: str,
    threads: int | None,
    folder: str,
    first: Sequence[str],
    progress: Callable[[Progress], None],
    cancel: CancelToken,
) -> IndexReport:
    ctx = mp.get_context("spawn")  # never fork a process that runs Qt threads
    messages = ctx.Queue()
    # A plain shared flag, polled: an mp.Event's set() waits for its sleepers to acknowledge,
    # and blocks forever if one of them was a process that has already exited.
    stop = ctx.RawValue("i", 0)
    args = (db_path, [str(d) for d in model_dirs], model_id, threads, folder, list(first))
    proc = ctx.Process(
        target=_child, args=(*args, messages, stop), name="photosort-indexer", daemon=True
    )
    proc.start()
    try:
        while True:
            if cancel.cancelled:
                stop.value = 1
            try:
                message = messages.get(timeout=POLL_SECONDS)
            except queue_module.Empty:
                if not proc.is_alive():
                    try:  # it may have reported just before exiting
                        message = messages.get(timeout=POLL_SECONDS)
                    except queue_module.Empty:
                        raise PhotoSortError(
                            f"the indexer stopped unexpectedly (exit code {proc.exitcode}); "
                            "what it finished is kept"
                        ) from None
                else:
                    continue
            kind = message[0]
            if kind == "progress":
                progress(Progress(*message[1:]))
            elif kind == "done":
                return message[1]
            elif kind == "error":
                raise PhotoSortError(message[1])
    finally:
        stop.value = 1
        proc.join(timeout=30)
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=5)
        messages.close()


def _child(
    db_path: str,
    model_dirs: list[str],
    model_id: str,
    threads: int | None,
    folder: str,
    first: list[str],
    messages,
    stop,
) -> None:
    from photosort.core.encoders import Registry
    from photosort.core.indexer import Indexer
    from photosort.core.store import Store

    token = CancelToken()
    # Background work yields the CPU to the app (and everything else the user runs).
    with contextlib.suppress(OSError, AttributeError):
        os.nice(10)

    def watch() -> None:
        while not stop.value:
            time.sleep(POLL_SECONDS / 2)
        token.cancel()

    threading.Thread(target=watch, daemon=True).start()

    def progress(p: Progress) -> None:
        messages.put(("progress", p.done, p.total, p.current))

    try:
        registry = Registry([Path(d) for d in model_dirs], threads=threads)
        store = Store(db_path)
        try:
            report = Indexer(store, registry.encoder(model_id)).index_folder(
                folder, progress, token, first
            )
        finally:
            store.close()
        messages.put(("done", report))
    except PhotoSortError as exc:
        messages.put(("error", str(exc)))
    except BaseException as exc:  # the parent shows it; the traceback goes to stderr/log
        traceback.print_exc()
        messages.put(("error", f"unexpected error while indexing: {describe(exc)}"))
