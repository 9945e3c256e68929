"""``photosort eval DIR [DIR...]``: how well each installed encoder sorts labelled folders."""

from __future__ import annotations

import argparse
import json
import sys

NAME = "eval"
HELP = "measure each encoder's sorting (mAP, precision@10) on folders of class sub-folders"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "folders",
        nargs="+",
        metavar="FOLDER",
        help="folder with one sub-folder of photos per class (several: one table each, then a summary)",
    )
    parser.add_argument(
        "--model",
        action="append",
        dest="models",
        metavar="ID",
        help="evaluate only this model (repeatable); default: every installed model and the "
        "reference backbone",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--queries", type=int, default=10, help="query photos per class")
    parser.add_argument("--seed", type=int, default=0, help="seed of the query draw")
    parser.add_argument("--no-baselines", action="store_true", help="skip the two baselines")


def _progress(what: str, done: int, total: int) -> None:
    """Progress on stderr: a live line on a terminal, a line per finished step otherwise."""
    if sys.stderr.isatty():
        end = "\n" if done >= total else ""
        sys.stderr.write(f"\r{what}: {done}/{total}" + end)
    elif done >= total:
        sys.stderr.write(f"{what}: {total} photos\n")
    sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    from photosort.core.errors import ModelError
    from photosort.core.evaluation import (
        evaluate_suite,
        format_summary,
        format_table,
        summary_rows,
    )

    try:
        tables = evaluate_suite(
            args.folders,
            args.models,
            _progress,
            per_class=args.queries,
            seed=args.seed,
            baselines=not args.no_baselines,
        )
    except (FileNotFoundError, ValueError, ModelError) as exc:
        print(f"photosort eval: {exc}", file=sys.stderr)
        return 1
    if args.json:
        out = {
            "folders": {name: [r.to_json() for r in rows] for name, rows in tables.items()},
            "summary": summary_rows(tables),
        }
        print(json.dumps(out, indent=2))
        return 0
    for name, rows in tables.items():
        print(f"== {name}")
        print(format_table(rows))
        print()
    if len(tables) > 1:
        print("== summary (mAP)")
        print(format_summary(tables))
    return 0
