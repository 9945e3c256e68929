"""`photosort index FOLDER`: bring the store up to date for a folder."""

from __future__ import annotations

import argparse

from photosort.commands import common

NAME = "index"
HELP = "index a folder (only new or changed photos are encoded)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", help="folder of photos (searched recursively)")
    common.add_model_option(parser)
    common.add_threads_option(parser)
    common.add_db_option(parser)


def run(args: argparse.Namespace) -> int:
    with common.indexed_folder(args) as (_folder, _encoder, _store, report):
        pass  # indexing is all this command does
    common.print_skipped(report)
    print(f"{report.total} photos: {report.summary()}")
    return 0
