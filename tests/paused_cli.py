"""Run `photosort ARGS` in a child process that stops at a named point for a test to interrupt.

A test that kills or interrupts a child "after a while" depends on how fast the machine is: on
a busy CI box the child may finish first, or not have started the interesting part. Instead,
the child runs this module, which wraps one function of PhotoSort: on its N-th call (before or
after the real call) the child writes `ready_file` and then waits there, forever, so the signal
the test sends on seeing the file always lands at exactly that point.

    python -m tests.paused_cli POINT N before|after READY_FILE -- photosort-args...

Nothing here changes what PhotoSort does up to the pause; the wrapped function is looked up by
its dotted name (module:attribute.path).
"""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

#: Named points of interest: where the real function lives, and how it is reached.
POINTS = {
    # Export: publishing one finished temporary copy under its final name.
    "export-publish": "photosort.core.export:_publish",
    # Indexing: the folder scan (start-up), one batch written, one latent inside a transaction.
    "index-scan": "photosort.core.indexer:scan_folder",
    "index-batch": "photosort.core.indexer:Indexer._write_batch",
    "index-latent": "photosort.core.store:Store.put_latent",
}


def _resolve(spec: str):
    module_name, _, attr_path = spec.partition(":")
    owner = importlib.import_module(module_name)
    *parents, name = attr_path.split(".")
    for part in parents:
        owner = getattr(owner, part)
    return owner, name


def install(point: str, nth: int, when: str, ready_file: str) -> None:
    owner, name = _resolve(POINTS[point])
    raw = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
    is_static = isinstance(raw, staticmethod)
    real = raw.__func__ if is_static else raw
    calls = 0

    def pause() -> None:
        Path(ready_file).write_text(f"{point} {nth} {when}\n")
        while True:  # until the test's signal arrives; never returns on its own
            time.sleep(3600)

    def wrapper(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == nth and when == "before":
            pause()
        result = real(*args, **kwargs)
        if calls == nth and when == "after":
            pause()
        return result

    setattr(owner, name, staticmethod(wrapper) if is_static else wrapper)


def popen(
    point: str,
    nth: int,
    when: str,
    ready_file: str | os.PathLike[str],
    *args: str | os.PathLike[str],
    **kwargs,
) -> subprocess.Popen:
    """Start the paused CLI; wait for it with `wait_ready`."""
    env = {**os.environ, **kwargs.pop("env", {})}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    argv = [sys.executable, "-m", "tests.paused_cli", point, str(nth), when, str(ready_file)]
    argv += ["--", *(os.fspath(a) for a in args)]
    return subprocess.Popen(argv, cwd=REPO, env=env, **kwargs)


def wait_ready(proc: subprocess.Popen, ready_file: str | os.PathLike[str]) -> None:
    """Block until the child reached its pause point; fail if it ended without reaching it.

    Polls for the file (an event, not a timing guess); the child cannot get past the point, so
    however slow the machine, the wait ends at the pause or at the child's unexpected exit.
    """
    ready = Path(ready_file)
    while not ready.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(
                f"the child ended (status {proc.returncode}) before its pause point: {err!r}"
            )
        time.sleep(0.01)


def main(argv: list[str]) -> int:
    point, nth, when, ready_file, sep, *rest = argv
    assert sep == "--" and when in ("before", "after") and point in POINTS
    # A Ctrl+C in a terminal reaches a program whose SIGINT is at its default, which Python
    # turns into KeyboardInterrupt. A test run started in the background of a script (`cmd &`
    # without job control, as CI runners and nohup wrappers do) hands its children SIGINT
    # *ignored*, and Python then leaves it ignored: the test's Ctrl+C would never land and the
    # paused child would wait forever. Restore what a terminal gives.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    install(point, int(nth), when, ready_file)
    from photosort.cli import main as photosort_main

    return photosort_main(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
