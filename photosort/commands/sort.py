"""`photosort sort FOLDER --like IMAGE`: print the folder ranked by similarity."""

from __future__ import annotations

import argparse
import json

from photosort.commands import common, ranking
from photosort.core.files import display_path

NAME = "sort"
HELP = (
    "rank a folder's photos by similarity to one or more reference photos, "
    "or --arrange the whole folder"
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder")
    ranking.add_like_option(parser, required=False)
    ranking.add_arrange_option(parser)
    parser.add_argument("--limit", type=int, metavar="N", help="print only the first N")
    parser.add_argument("--json", action="store_true", help="print a JSON array")
    common.add_model_option(parser)
    common.add_threads_option(parser)
    common.add_db_option(parser)


def run(args: argparse.Namespace) -> int:
    common.tolerant_stdout()
    index, rows, distances = ranking.order_for(args)
    if args.limit is not None:
        rows = rows[: max(args.limit, 0)]
    if args.json:
        out = [
            {"path": display_path(index.paths[r]), "distance": round(float(distances[r]), 6)}
            for r in rows
        ]
        text = json.dumps(out, ensure_ascii=False, indent=1)
        if not common.stdout_can_encode(text):
            text = json.dumps(out, indent=1)  # \u escapes: still valid JSON
        print(text)
    else:
        for r in rows:
            print(f"{float(distances[r]):.4f}\t{display_path(index.paths[r])}")
    return 0
