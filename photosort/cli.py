"""The `photosort` command: subcommands for everything the app does; no subcommand opens the app.

Errors the user can act on (a missing folder, an unknown model, an unwritable target) end in one
line on stderr and exit status 1; an unexpected error also writes its traceback to the log file
and names it, instead of printing it.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import multiprocessing
import os
import sys
import traceback
from types import ModuleType

from photosort import __version__, paths

#: Subcommand modules under photosort.commands, in the order `--help` lists them.
COMMANDS = ("index", "sort", "duplicates", "export", "latents", "models", "map", "eval", "train")


def _command_modules(names: tuple[str, ...] = COMMANDS) -> dict[str, ModuleType]:
    modules = {}
    for name in names:
        try:
            module = importlib.import_module(f"photosort.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"photosort.commands.{name}":
                continue  # not part of this build (e.g. training left out of the bundle)
            raise
        modules[module.NAME] = module
    return modules


def build_parser(modules: dict[str, ModuleType]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="photosort",
        description="Sort a folder of photos by visual similarity. "
        "Without a subcommand, opens the desktop app (optionally on FOLDER).",
    )
    parser.add_argument("--version", action="version", version=f"PhotoSort {__version__}")
    parser.add_argument(
        "--selftest", action="store_true", help="check models, indexing and the window; exit"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in modules.items():
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.configure(p)
    return parser


def _quiet_blas_threads() -> None:
    """Let OpenBLAS's helper threads sleep as soon as they are idle.

    By default they spin for ~0.1 s after numpy loads them and after every BLAS call; on a
    2-core laptop that is a core taken from the indexer's decode threads (and from the battery)
    for nothing. Must run before numpy is imported; a value the user set is kept.
    """
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")


def log_file() -> str:
    return str(paths.user_cache_dir() / "photosort.log")


def _setup_logging() -> None:
    try:
        paths.user_cache_dir().mkdir(parents=True, exist_ok=True)
        logging.basicConfig(
            filename=log_file(),
            level=logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    except OSError:
        logging.basicConfig(level=logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    # A frozen bundle re-runs itself to start the app's indexing process: let that child
    # become the worker instead of parsing our command line.
    multiprocessing.freeze_support()
    argv = list(sys.argv[1:] if argv is None else argv)
    _quiet_blas_threads()
    _setup_logging()
    # Only the named subcommand's module is imported (a tenth of a second less for `index`);
    # `--help`, the app and mistakes get them all.
    modules = _command_modules((argv[0],)) if argv and argv[0] in COMMANDS else {}
    if not modules:
        modules = _command_modules()
    gui_args = _gui_request(argv, modules)
    if gui_args is not None:
        return _run_gui(gui_args)
    parser = build_parser(modules)
    args = parser.parse_args(argv)
    if args.selftest:
        from photosort.selftest import run_selftest

        return run_selftest()
    return _run_command(modules[args.command], args)


def _gui_request(argv: list[str], modules: dict[str, ModuleType]) -> list[str] | None:
    """argv for the app when no subcommand is given (`photosort`, `photosort FOLDER`)."""
    if argv and (argv[0] in modules or argv[0].startswith("-")):
        return None
    if len(argv) > 1:
        return None  # let argparse explain the mistake
    return argv


def _run_command(module: ModuleType, args: argparse.Namespace) -> int:
    from photosort.core.errors import PhotoSortError

    try:
        return int(module.run(args) or 0)
    except PhotoSortError as exc:
        print(f"photosort: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("photosort: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0  # `photosort sort ... | head`
    except OSError as exc:  # a disk or permission problem no command foresaw: words, no errno
        from photosort.core.errors import plain_reason
        from photosort.core.files import display_path

        logging.getLogger("photosort").error("disk error\n%s", traceback.format_exc())
        where = f": {display_path(os.fsdecode(exc.filename))}" if exc.filename else ""
        print(f"photosort: {plain_reason(exc)}{where}", file=sys.stderr)
        return 1
    except Exception as exc:
        logging.getLogger("photosort").error("unexpected error\n%s", traceback.format_exc())
        print(
            f"photosort: unexpected error: {exc.__class__.__name__}: {exc} "
            f"(details in {log_file()})",
            file=sys.stderr,
        )
        return 2


def _run_gui(argv: list[str]) -> int:
    from photosort.gui_libraries import check_gui_libraries

    problem = check_gui_libraries()  # before Qt loads its plugin (and aborts without them)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 1
    try:
        from photosort.ui.app import run_app
    except ImportError as exc:
        print(f"photosort: the desktop app is not available: {exc}", file=sys.stderr)
        return 1
    return run_app(argv[0] if argv else None)


def gui_main() -> int:
    """Entry point of `photosort-gui` (launchers, Windows): always the app."""
    multiprocessing.freeze_support()
    _quiet_blas_threads()
    _setup_logging()
    argv = sys.argv[1:]
    return _run_gui(argv[:1])


if __name__ == "__main__":
    sys.exit(main())
