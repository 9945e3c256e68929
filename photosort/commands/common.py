"""What several subcommands share: opening the store and the models, and showing progress."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator

from photosort import paths
from photosort.core.encoders import Encoder, Registry
from photosort.core.errors import PhotoSortError, plain_reason
from photosort.core.files import display_path
from photosort.core.indexer import Indexer, IndexReport
from photosort.core.jobs import Progress
from photosort.core.store import Store


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="PATH",
        help=f"database file (default: ${paths.DB_ENV} or {paths.default_db_path()})",
    )


def add_model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="ID", help="encoder to use (see `photosort models`)")


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, metavar="N", help="inference threads (default: all)")


def open_store(args: argparse.Namespace) -> Store:
    store = Store(paths.default_db_path(getattr(args, "db", None)), check=True)
    if store.set_aside is not None:
        warn(f"the database was damaged; it was kept as {store.set_aside} and a new one started")
    return store


def open_encoder(args: argparse.Namespace) -> Encoder:
    registry = Registry.default(threads=getattr(args, "threads", None))
    for problem in registry.problems:
        warn(problem)
    return registry.encoder(getattr(args, "model", None))


def require_folder(folder: str) -> str:
    path = os.path.abspath(folder)
    if not os.path.exists(path):
        raise PhotoSortError(f"no such folder: {display_path(folder)}")
    if not os.path.isdir(path):
        raise PhotoSortError(f"not a folder: {display_path(folder)}")
    if not os.access(path, os.R_OK | os.X_OK):
        raise PhotoSortError(f"cannot read the folder: {display_path(folder)}")
    return path


def check_output_file(out: str) -> None:
    """Refuse an output file that cannot be written, in plain words, before any work is done."""
    path = os.path.abspath(out)
    parent = os.path.dirname(path)
    if os.path.isdir(path):
        raise PhotoSortError(f"cannot write {display_path(out)}: it is a folder; give a file name")
    if not os.path.isdir(parent):
        raise PhotoSortError(f"cannot write {display_path(out)}: no folder {display_path(parent)}")
    probe = os.path.join(parent, f".photosort-probe-{os.getpid()}")
    try:
        with open(probe, "xb"):
            pass
        os.remove(probe)
    except OSError as exc:
        raise PhotoSortError(f"cannot write {display_path(out)}: {plain_reason(exc)}") from None


def tolerant_stdout() -> None:
    """Print what the terminal's encoding cannot show (a Windows pipe, PYTHONIOENCODING=ascii)
    escaped instead of failing halfway through the output."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="backslashreplace")


def stdout_can_encode(text: str) -> bool:
    try:
        text.encode(sys.stdout.encoding or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def warn(message: str) -> None:
    print(f"photosort: {message}", file=sys.stderr)


class TerminalProgress:
    """A one-line progress bar on a terminal; silent when stderr is not one."""

    def __init__(self, label: str, stream=None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.started = time.monotonic()
        self._last = 0.0
        self._drawn = False

    def __call__(self, p: Progress) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and p.done < p.total:
            return
        self._last = now
        total = max(p.total, 1)
        frac = min(p.done / total, 1.0)
        bar = "█" * int(frac * 30) + "░" * (30 - int(frac * 30))
        elapsed = now - self.started
        eta = ""
        if 0 < p.done < p.total and elapsed > 1:
            eta = f" ~{(p.total - p.done) * elapsed / p.done:.0f}s left"
        self.stream.write(f"\r{self.label} {bar} {p.done}/{p.total}{eta}\x1b[K")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def index_folder(
    store: Store, encoder: Encoder, folder: str, first: list[str] | None = None
) -> IndexReport:
    bar = TerminalProgress(f"Indexing with {encoder.info.id}")
    try:
        return Indexer(store, encoder).index_folder(folder, progress=bar, first=first or [])
    finally:
        bar.close()


@contextlib.contextmanager
def indexed_folder(
    args: argparse.Namespace, first: list[str] | None = None
) -> Iterator[tuple[str, Encoder, Store, IndexReport]]:
    """What every folder subcommand starts with: check the folder, open the encoder and the
    store, and index what is missing (`first` before the rest); the store stays open inside."""
    folder = require_folder(args.folder)
    encoder = open_encoder(args)
    with open_store(args) as store:
        yield folder, encoder, store, index_folder(store, encoder, folder, first)


def print_skipped(report: IndexReport, limit: int = 20) -> None:
    for path, reason in report.skipped[:limit]:
        warn(f"skipped {display_path(path)}: {reason}")
    if len(report.skipped) > limit:
        warn(f"... and {len(report.skipped) - limit} more skipped")
