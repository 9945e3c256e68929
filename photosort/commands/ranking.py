"""Ranking a folder for the `sort`, `export` and `latents` subcommands."""

from __future__ import annotations

import argparse
import os

import numpy as np

from photosort.commands import common
from photosort.core.errors import PhotoSortError
from photosort.core.files import display_path, is_photo_name
from photosort.core.similarity import LatentIndex, Ranking


def add_like_option(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument(
        "--like",
        metavar="IMAGE",
        action="append",
        required=required,
        help="reference photo; repeat for several (their combined similarity)",
    )


def add_arrange_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--arrange",
        action="store_true",
        help="order the whole folder so that each photo looks like the next (no reference "
        "needed; with --like, start from the photo most like it); the distance shown is then "
        "the distance to the previous photo",
    )


def check_references(images: list[str]) -> list[str]:
    refs = []
    for image in images:
        path = os.path.abspath(image)
        if not os.path.isfile(path):
            raise PhotoSortError(f"no such photo: {display_path(image)}")
        if not is_photo_name(path):
            raise PhotoSortError(f"not a photo (unsupported file type): {display_path(image)}")
        refs.append(path)
    return refs


def indexed_folder(args: argparse.Namespace, refs: list[str]) -> tuple[LatentIndex, list[str]]:
    """Index what is missing (references first) and load the folder's latents."""
    with common.indexed_folder(args, refs) as (folder, encoder, store, report):
        outside = [r for r in refs if not r.startswith(folder + os.sep)]
        if outside:
            from photosort.core.indexer import Indexer

            extra = Indexer(store, encoder).index_paths(outside)
            report.skipped.extend(extra.skipped)
        for ref in refs:
            reason = next((why for p, why in report.skipped if p == ref), None)
            if reason:
                raise PhotoSortError(
                    f"cannot read the reference photo {display_path(ref)}: {reason}"
                )
        paths, vectors = store.latents_under(folder, encoder.info.id)
        _, ref_vectors = store.latents_for_paths(outside, encoder.info.id)
    common.print_skipped(report, limit=5)
    index = LatentIndex(
        paths + outside,
        _stack(vectors, ref_vectors),
        encoder.info.metric,
        encoder.info.query_expansion,
    )
    return index, outside


def _stack(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if len(b) == 0:
        return a
    if len(a) == 0:
        return b
    return np.concatenate([a, b])


def ranking_for(args: argparse.Namespace) -> tuple[LatentIndex, list[int], Ranking]:
    """The folder's photos (rows) in rank order; references from outside the folder left out."""
    common.require_folder(args.folder)
    refs = check_references(args.like)
    index, outside = indexed_folder(args, refs)
    ranking = index.rank_like(refs)
    hidden = {index.row_of(p) for p in outside}
    rows = [int(r) for r in ranking.order if int(r) not in hidden]
    return index, rows, ranking


def order_for(args: argparse.Namespace) -> tuple[LatentIndex, list[int], np.ndarray]:
    """Rows in the order asked for (--like ranking or --arrange) and a distance per row."""
    if getattr(args, "arrange", False):
        return arranged_for(args)
    if not args.like:
        raise PhotoSortError("give a reference photo with --like IMAGE, or --arrange")
    index, rows, result = ranking_for(args)
    return index, rows, result.distances


def arranged_for(args: argparse.Namespace) -> tuple[LatentIndex, list[int], np.ndarray]:
    """Every photo of the folder once, similar ones next to each other.

    distances[row] is the distance from that photo to the one before it (0 for the first).
    """
    from photosort.core.arrange import arrange, step_distances

    common.require_folder(args.folder)
    refs = check_references(args.like or [])
    index, outside = indexed_folder(args, refs)
    inside = len(index) - len(outside)  # references from outside the folder come last
    start = None
    if refs:
        start = next(int(r) for r in index.rank_like(refs).order if int(r) < inside)
    vectors = index.vectors[:inside]
    order = arrange(vectors, index.metric, start=start)
    distances = np.zeros(len(index), np.float32)
    distances[order] = step_distances(vectors, index.metric, order)
    return index, [int(r) for r in order], distances
