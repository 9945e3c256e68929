"""`photosort export FOLDER --like IMAGE --to DEST`: renamed copies in similarity order."""

from __future__ import annotations

import argparse

from photosort.commands import common, ranking
from photosort.core.export import DEFAULT_PATTERN, ExportItem, plan_export, run_export
from photosort.core.files import display_path

NAME = "export"
HELP = "copy a folder's photos, renamed in similarity order, to another folder"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder")
    ranking.add_like_option(parser, required=False)
    ranking.add_arrange_option(parser)
    parser.add_argument(
        "--to", required=True, metavar="DEST", help="target folder (outside FOLDER)"
    )
    parser.add_argument(
        "--pattern",
        default=DEFAULT_PATTERN,
        help="file name pattern; fields {rank} {name} {stem} {ext} {distance} {folder} "
        f"(default: {DEFAULT_PATTERN}); a name without a photo extension keeps the original's",
    )
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N photos")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, copy nothing")
    common.add_model_option(parser)
    common.add_threads_option(parser)
    common.add_db_option(parser)


def run(args: argparse.Namespace) -> int:
    common.tolerant_stdout()
    from photosort.core.export import check_target_outside, validate_pattern

    # Fail before indexing anything.
    validate_pattern(args.pattern)
    check_target_outside(args.to, [common.require_folder(args.folder)])
    index, rows, distances = ranking.order_for(args)
    if args.limit is not None:
        rows = rows[: max(args.limit, 0)]
    items = [ExportItem(index.paths[r], float(distances[r])) for r in rows]
    plan = plan_export(items, args.to, args.pattern)
    if args.dry_run:
        for p in plan:
            print(f"{display_path(p.name)}\t{display_path(p.source)}")
        return 0
    bar = common.TerminalProgress("Exporting")
    try:
        report = run_export(plan, args.to, progress=bar)
    finally:
        bar.close()
    print(f"{len(report.copied)} photos copied to {display_path(args.to)}")
    if report.manifest:
        print(f"manifest: {display_path(report.manifest)}")
    return 0
