"""`photosort latents FOLDER --out FILE.npz`: the folder's latents for analysis."""

from __future__ import annotations

import argparse
import os

from photosort.commands import common
from photosort.core.errors import PhotoSortError, plain_reason

NAME = "latents"
HELP = "save a folder's latent vectors to a .npz file"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder")
    parser.add_argument("--out", required=True, metavar="FILE.npz")
    common.add_model_option(parser)
    common.add_threads_option(parser)
    common.add_db_option(parser)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    with common.indexed_folder(args) as (folder, encoder, store, report):
        paths, vectors = store.latents_under(folder, encoder.info.id)
    common.print_skipped(report, limit=5)
    if len(paths) == 0:
        vectors = np.zeros((0, encoder.info.latent_size), np.float32)
    out = os.path.abspath(args.out)
    tmp = out + ".partial.npz"
    try:
        np.savez(
            tmp,
            paths=np.array([os.fsencode(p).decode("utf-8", "surrogateescape") for p in paths]),
            vectors=vectors.astype(np.float32),
            metric=np.array(encoder.info.metric),
            model=np.array(encoder.info.id),
        )
        os.replace(tmp, out)
    except OSError as exc:
        raise PhotoSortError(f"cannot write {args.out}: {plain_reason(exc)}") from None
    print(f"{len(paths)} latents ({encoder.info.latent_size} floats each) written to {args.out}")
    return 0
