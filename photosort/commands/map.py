"""`photosort map FOLDER --out map.png`: the folder's similarity map as an image.

Every photo is a dot at its place on the map (see photosort.core.projection); on top, a
thumbnail for one photo per cell of a thumbnail-sized grid (the one nearest the cell's centre),
so the image shows what each region holds without thumbnails piling up. Pillow only, no Qt.
"""

from __future__ import annotations

import argparse
import os

from photosort.commands import common

NAME = "map"
HELP = "render a folder's similarity map (UMAP of the latents) with thumbnails to an image"

BACKGROUND = (32, 33, 36)
DOT = (138, 180, 248)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder")
    parser.add_argument("--out", required=True, metavar="FILE.png", help="image to write")
    parser.add_argument(
        "--size",
        type=int,
        default=2400,
        metavar="PX",
        help="the image's longer side (default: 2400); the other follows the map's shape",
    )
    parser.add_argument(
        "--thumb", type=int, default=96, metavar="PX", help="thumbnail side (default: 96)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="PCA layout only (instant, coarser than UMAP)"
    )
    common.add_model_option(parser)
    common.add_threads_option(parser)
    common.add_db_option(parser)


def run(args: argparse.Namespace) -> int:
    from photosort.core.errors import PhotoSortError
    from photosort.core.files import display_path
    from photosort.core.projection import compute_map

    if args.size < 64 or args.thumb < 8 or args.thumb * 2 > args.size:
        raise PhotoSortError("--size must be at least 64 and twice --thumb; --thumb at least 8")
    common.check_output_file(args.out)  # before minutes of indexing and layout, not after
    with common.indexed_folder(args) as (folder, encoder, store, report):
        paths, vectors = store.latents_under(folder, encoder.info.id)
        bar = common.TerminalProgress("Mapping")
        try:
            layout = compute_map(
                store,
                encoder.info.id,
                paths,
                vectors,
                encoder.info.metric,
                scope=folder,
                refine=not args.quick,
                progress=bar,
            )
        finally:
            bar.close()
    common.print_skipped(report, limit=5)
    shown = render_map(layout.paths, layout.coords, args.out, args.size, args.thumb)
    count = f"{len(layout)} photo" + ("" if len(layout) == 1 else "s")
    print(
        f"map of {count} ({layout.method}, {shown} thumbnails) written to {display_path(args.out)}"
    )
    return 0


def pick_thumbnails(xy, cell: float) -> list[int]:
    """One row per occupied grid cell: the point nearest the centre of its cell."""
    best: dict[tuple[int, int], tuple[float, int]] = {}
    for i, (x, y) in enumerate(xy):
        cx, cy = int(x // cell), int(y // cell)
        d = (x - (cx + 0.5) * cell) ** 2 + (y - (cy + 0.5) * cell) ** 2
        if (cx, cy) not in best or d < best[(cx, cy)][0]:
            best[(cx, cy)] = (d, i)
    return sorted(i for _, i in best.values())


def render_map(paths: list[str], coords, out: str, size: int, thumb: int) -> int:
    """Draw the map to `out` (format from the extension); returns how many thumbnails."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    from PIL import Image, ImageDraw

    from photosort.core.decode import make_thumbnail
    from photosort.core.errors import PhotoSortError, plain_reason
    from photosort.core.files import display_path

    margin = thumb // 2 + 4
    c = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
    lo = c.min(axis=0) if len(c) else np.zeros(2)
    span = (c.max(axis=0) - lo) if len(c) else np.zeros(2)
    # The longer side of the map spans `size`; the other side is cropped to the map.
    scale = (size - 2 * margin) / max(float(span.max()), 1e-9) if span.max() > 0 else 0.0
    width, height = (int(round(v * scale)) + 2 * margin for v in span)
    width, height = max(width, 2 * margin + 1), max(height, 2 * margin + 1)
    xy = (c - lo) * scale + margin
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    r = max(1.5, size / 800)
    for x, y in xy:
        draw.ellipse((x - r, y - r, x + r, y + r), fill=DOT)
    chosen = pick_thumbnails(xy, float(thumb))

    def load(i: int):
        try:
            return i, make_thumbnail(paths[i], thumb - 2)
        except Exception:  # an unreadable photo keeps its dot
            return i, None

    shown = 0
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 2) * 2)) as pool:
        for i, img in pool.map(load, chosen):
            if img is None:
                continue
            w, h = img.size
            x0, y0 = int(xy[i, 0] - w / 2), int(xy[i, 1] - h / 2)
            draw.rectangle((x0 - 1, y0 - 1, x0 + w, y0 + h), fill=(240, 240, 240))
            canvas.paste(img, (x0, y0))
            shown += 1
    target = os.path.abspath(out)
    stem, ext = os.path.splitext(target)
    tmp = f"{stem}.partial{ext or '.png'}"
    try:
        canvas.save(tmp, format=None if ext else "PNG")
        os.replace(tmp, target)
    except (OSError, ValueError, KeyError) as exc:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(exc, OSError):
            reason = plain_reason(exc)
        else:  # Pillow does not know the extension
            reason = f"unknown image type {ext!r}; use .png or .jpg"
        raise PhotoSortError(f"cannot write {display_path(out)}: {reason}") from None
    return shown
