"""`photosort duplicates FOLDER`: exact copies, near-copies or similar shots, in groups."""

from __future__ import annotations

import argparse
import json
import sys

from photosort.commands import common
from photosort.core.duplicates import DEFAULT_STRICTNESS, STRICTNESS, Group, find_duplicates
from photosort.core.files import display_path
from photosort.core.trash import TrashOutcome, format_bytes, trash_duplicates

NAME = "duplicates"
HELP = "find duplicate photos in a folder (keeper first); --trash moves the others to the trash"

_KIND = {"exact": "exact copies", "near": "near-copies", "similar": "similar shots"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder")
    parser.add_argument(
        "--strictness",
        choices=STRICTNESS,
        default=DEFAULT_STRICTNESS,
        help="exact: identical files only; near (default): copies resized, re-compressed, "
        "cropped, turned, edited; similar: also shots of the same moment (bursts)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON array of groups")
    parser.add_argument(
        "--trash",
        action="store_true",
        help="move every photo but each group's keeper to the desktop's trash (no prompt)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="with --trash: show what would be moved, move nothing",
    )
    common.add_model_option(parser)
    common.add_threads_option(parser)
    common.add_db_option(parser)


def _photo_json(p) -> dict:
    return {
        "path": display_path(p.path),
        "size": p.size,
        "width": p.width,
        "height": p.height,
        "taken": p.taken,
    }


def _group_json(g: Group) -> dict:
    return {
        "keeper": display_path(g.keeper.path),
        "paths": [display_path(p) for p in g.paths],
        "kind": g.kind,
        "reason": g.reason,
        "photos": [_photo_json(p) for p in g.photos],
    }


def _describe(p) -> str:
    dims = f"{p.width}×{p.height}" if p.width and p.height else "size unknown"
    taken = f", {p.taken[:10].replace(':', '-')}" if p.taken else ""
    return f"{dims}, {format_bytes(p.size)}{taken}"


def _print_groups(groups: list[Group]) -> None:
    for n, g in enumerate(groups, 1):
        print(f"group {n}: {len(g.photos)} {_KIND[g.kind]}")
        print(f"  keep   {display_path(g.keeper.path)}  ({_describe(g.keeper)}; {g.reason})")
        for p in g.others:
            print(f"         {display_path(p.path)}  ({_describe(p)})")


def _print_outcome(outcome: TrashOutcome) -> None:
    for path, reason in outcome.skipped:
        common.warn(f"left in place {display_path(path)}: {reason}")
    for path, reason in outcome.failed:
        common.warn(f"could not move {display_path(path)} (still in place): {reason}")
    print(outcome.summary())


def run(args: argparse.Namespace) -> int:
    common.tolerant_stdout()
    if args.dry_run and not args.trash:
        args.trash = True  # --dry-run alone shows the plan: what else could it mean
    with common.indexed_folder(args) as (folder, encoder, store, report):
        common.print_skipped(report)
        found = find_duplicates(store, folder, encoder.info, args.strictness)
        for note in found.notes:
            common.warn(note)
        groups = found.groups
        if args.json:
            text = json.dumps([_group_json(g) for g in groups], ensure_ascii=False, indent=1)
            if not common.stdout_can_encode(text):
                text = json.dumps([_group_json(g) for g in groups], indent=1)
            print(text)
        else:
            _print_groups(groups)
            print(
                f"{len(groups)} groups of {_KIND[args.strictness]} among {found.photos} photos; "
                f"{found.duplicates()} could go to the trash ({format_bytes(found.reclaimable())})"
            )
        if not args.trash or not groups:
            return 0
        out = sys.stderr if args.json else sys.stdout
        verb = "would move" if args.dry_run else "moving"
        print(
            f"{verb} {found.duplicates()} photos ({format_bytes(found.reclaimable())}) to the "
            "trash, keeping each group's first photo:",
            file=out,
        )
        for g in groups:
            for p in g.others:
                print(f"  {display_path(p.path)}", file=out)
        if args.dry_run:
            return 0
        outcome = trash_duplicates(store, folder, groups)
        if args.json:
            common.warn(outcome.summary())
            for path, reason in outcome.skipped + outcome.failed:
                common.warn(f"{display_path(path)}: {reason}")
        else:
            _print_outcome(outcome)
        return 1 if outcome.failed else 0
