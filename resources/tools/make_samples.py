"""Regenerate resources/samples/ from the full-size photos in ../shared/data/camera.

Usage: python resources/tools/make_samples.py [SRC_DIR] [DEST_DIR]

Each photo is turned upright (EXIF orientation applied), downsized so its long side is
1024 px, and saved as JPEG quality 85. Only a few EXIF tags are kept (camera make and model,
date and exposure); the orientation tag is dropped because the pixels are already upright.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageOps

LONG_SIDE = 1024
QUALITY = 85

# Tags of IFD0 and of the Exif sub-IFD that survive the resize unchanged.
KEEP_IFD0 = {
    0x010F,  # Make
    0x0110,  # Model
    0x0131,  # Software
    0x0132,  # DateTime
    0x013B,  # Artist
    0x8298,  # Copyright
}
KEEP_EXIF = {
    0x829A,  # ExposureTime
    0x829D,  # FNumber
    0x8827,  # ISOSpeedRatings
    0x9003,  # DateTimeOriginal
    0x9004,  # DateTimeDigitized
    0x9010,  # OffsetTime
    0x9011,  # OffsetTimeOriginal
    0x920A,  # FocalLength
    0xA405,  # FocalLengthIn35mmFilm
    0xA433,  # LensMake
    0xA434,  # LensModel
}
EXIF_IFD = 0x8769


def trimmed_exif(src: Image.Image) -> Image.Exif:
    old = src.getexif()
    new = Image.Exif()
    for tag in KEEP_IFD0:
        if tag in old:
            new[tag] = old[tag]
    old_sub = old.get_ifd(EXIF_IFD)
    sub = {tag: old_sub[tag] for tag in KEEP_EXIF if tag in old_sub}
    if sub:
        new_sub = new.get_ifd(EXIF_IFD)
        new_sub.update(sub)
    return new


def convert(src: Path, dest: Path) -> None:
    with Image.open(src) as im:
        exif = trimmed_exif(im)
        upright = ImageOps.exif_transpose(im).convert("RGB")
    scale = LONG_SIDE / max(upright.size)
    if scale < 1:
        size = (round(upright.width * scale), round(upright.height * scale))
        upright = upright.resize(size, Image.Resampling.LANCZOS)
    kwargs = {"quality": QUALITY, "optimize": True, "progressive": True}
    if len(exif):
        kwargs["exif"] = exif
    upright.save(dest, "JPEG", **kwargs)


#: Stored sideways under an "upright" EXIF tag in the source collection: shown as is, it looks
#: like a PhotoSort bug, so it is not a sample.
LEFT_OUT = {"olympus_u1020.jpg"}


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parents[2]
    src_dir = Path(argv[1]) if len(argv) > 1 else root.parent / "shared" / "data" / "camera"
    dest_dir = Path(argv[2]) if len(argv) > 2 else root / "resources" / "samples"
    dest_dir.mkdir(parents=True, exist_ok=True)
    for src in sorted(src_dir.glob("*.jpg")):
        if src.name in LEFT_OUT:
            continue
        convert(src, dest_dir / src.name)
        print(src.name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
