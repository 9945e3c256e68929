"""``photosort eval FOLDER``: how well each installed encoder sorts a labelled folder."""

from __future__ import annotations

import argparse
import json
import sys

NAME = "eval"
HELP = "measure each encoder's sorting (mAP, precision@10) on a folder of class sub-folders"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", help="folder with one sub-folder of photos per class")
    parser.add_argument(
        "--model",
        action="append",
        dest="models",
        metavar="ID",
        help="evaluate only this model (repeatable); default: every installed model",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--queries", type=int, default=10, help="query photos per class")
    parser.add_argument("--seed", type=int, default=0, help="seed of the query draw")
    parser.add_argument("--no-baselines", action="store_true", help="skip the two baselines")


def run(args: argparse.Namespace) -> int:
    from photosort.core.errors import ModelError
    from photosort.core.evaluation import evaluate_folder, format_table

    def progress(what: str, done: int, total: int) -> None:
        if sys.stderr.isatty():
            end = "\n" if done >= total else ""
            sys.stderr.write(f"\r{what}: {done}/{total}" + end)
            sys.stderr.flush()

    try:
        rows = evaluate_folder(
            args.folder,
            args.models,
            progress,
            per_class=args.queries,
            seed=args.seed,
            baselines=not args.no_baselines,
        )
    except (FileNotFoundError, ValueError, ModelError) as exc:
        print(f"photosort eval: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([r.to_json() for r in rows], indent=2))
    else:
        print(format_table(rows))
    return 0
