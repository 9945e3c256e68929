"""Turning photo files into upright RGB pixels, quickly and safely.

Every decode goes through `_load_upright` (via `open_upright`, or `decode_bytes_for_index` for
the indexer, which also reads the header's size and date from the same opened file): JPEGs are
decoded by libjpeg at the smallest DCT scale (1/2, 1/4, 1/8) that still covers the requested
size, the EXIF orientation is applied, any mode (CMYK, 16-bit, palette, alpha, greyscale)
becomes 8-bit RGB, and images whose pixel count would exhaust memory are refused with a reason
before their pixels are allocated.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from blake3 import blake3
from PIL import Image, ImageOps, UnidentifiedImageError

from photosort.core.errors import DecodeError
from photosort.core.signature import pixel_signature

if TYPE_CHECKING:
    import numpy as np

try:  # HEIC/HEIF (iPhone photos) and AVIF, when pillow-heif is installed.
    import pillow_heif

    pillow_heif.register_heif_opener()
except Exception:  # pragma: no cover - optional codec missing or broken
    pillow_heif = None

#: Refuse to decode more pixels than this (after draft scaling): ~ 3× a 100 MP medium-format
#: photo, and far below what would exhaust a laptop's memory.
MAX_DECODE_PIXELS = 300_000_000
# We check sizes ourselves (after draft, where huge JPEGs become cheap), so Pillow's own
# warning-then-error guard is moved out of the way but kept as a backstop far above ours.
Image.MAX_IMAGE_PIXELS = MAX_DECODE_PIXELS * 4

_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 36867
_SUBSEC_ORIGINAL = 37521
_DATETIME = 306
_ORIENTATION = 274
_BACKGROUND = (255, 255, 255)


@dataclass(slots=True)
class DecodedPhoto:
    """What the indexer learns from one read of a file."""

    # RGB at the model's input size, as a Pillow image: the decode threads need no numpy, so
    # the indexer can start decoding while numpy and onnxruntime are still being imported.
    pixels: Image.Image
    width: int  # upright size of the original
    height: int
    taken: str | None  # EXIF DateTimeOriginal as "YYYY:MM:DD HH:MM:SS", when present
    content_hash: bytes
    signature: bytes | None = None  # core/signature.py; the duplicate finder's pixel evidence


def content_hash(data: bytes) -> bytes:
    """A 128-bit digest of the file's bytes; identifies a photo across renames and moves.

    BLAKE3 rather than hashlib's BLAKE2b: as collision-resistant, and 0.22 instead of 1.2 ms of
    CPU for a 1.2 MB camera JPEG (measured here) -- a tenth of the indexer's budget per photo.
    """
    return blake3(data, max_threads=1).digest(16)


def read_file(path: str) -> bytes:
    """Read a whole file once; decode and hash then share the same bytes."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise DecodeError("file disappeared") from None
    except PermissionError:
        raise DecodeError("permission denied") from None
    except IsADirectoryError:
        raise DecodeError("is a folder") from None
    except OSError as exc:
        raise DecodeError(f"cannot read: {exc.strerror or exc}") from None
    if not data:
        raise DecodeError("empty file (0 bytes)")
    return data


@contextmanager
def _decode_errors() -> Iterator[None]:
    """Turn whatever Pillow raises on a bad file into a DecodeError that says why."""
    try:
        yield
    except DecodeError:
        raise
    except Image.DecompressionBombError:
        raise DecodeError("image too large: refused as a possible decompression bomb") from None
    except UnidentifiedImageError:
        raise DecodeError("not a recognised image format") from None
    except (
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        IndexError,
        TypeError,
        KeyError,
        ZeroDivisionError,
        struct.error,
    ) as exc:
        # Pillow's plugins report truncated or corrupt data with these; the message says which.
        raise DecodeError(f"damaged image: {exc}") from None
    except MemoryError:
        raise DecodeError("not enough memory to decode this image") from None


def open_upright(
    source: bytes | str | os.PathLike[str], min_size: tuple[int, int] | None = None
) -> Image.Image:
    """Open a photo as an upright 8-bit RGB image.

    `min_size` is (width, height) the caller needs at least; JPEGs are then decoded at the
    smallest DCT scale whose result still covers it in both directions, whatever the EXIF
    orientation.
    """
    data = source if isinstance(source, bytes) else read_file(os.fspath(source))
    with _decode_errors():
        img = _open_in_memory(data)
        return _load_upright(img, _orientation(img), min_size)


def _open_in_memory(data: bytes) -> Image.Image:
    """Open a file already read into memory; its decoder gets the whole buffer in one call
    instead of 64 kB pieces through Python (2 % less CPU per camera JPEG, measured)."""
    img = Image.open(io.BytesIO(data))
    img.decodermaxblock = max(len(data), 65536)
    return img


def _load_upright(
    img: Image.Image, orientation: int | None, min_size: tuple[int, int] | None
) -> Image.Image:
    """Decode an opened image (draft-scaled when `min_size` allows), to upright RGB."""
    if min_size is not None and img.format == "JPEG":
        want_w, want_h = min_size
        if orientation in (5, 6, 7, 8):  # stored sideways: swap the request
            want_w, want_h = want_h, want_w
        img.draft("RGB", (want_w, want_h))
    width, height = img.size
    if width * height > MAX_DECODE_PIXELS:
        raise DecodeError(
            f"image too large ({width}×{height} pixels): refused as a possible decompression bomb"
        )
    img.load()
    img = _to_rgb(img)
    if orientation not in (None, 1):
        img = _transpose(img, orientation)
    return img


def _orientation(img: Image.Image) -> int | None:
    try:
        value = img.getexif().get(_ORIENTATION)
    except Exception:
        return None
    return value if isinstance(value, int) and 1 <= value <= 8 else None


_TRANSPOSE = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}


def _transpose(img: Image.Image, orientation: int) -> Image.Image:
    for op in _TRANSPOSE.get(orientation, ()):
        img = img.transpose(op)
    return img


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB; transparency is flattened onto white."""
    mode = img.mode
    if mode == "RGB":
        out = img
    elif mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        import numpy as np

        arr = np.asarray(img, dtype=np.float32)
        top = 65535.0 if mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        if mode == "F":
            top = max(float(arr.max(initial=0)), 1e-6)
        grey = np.clip(arr * (255.0 / top), 0, 255).astype(np.uint8)
        out = Image.fromarray(np.stack([grey] * 3, axis=-1), "RGB")
    elif mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, _BACKGROUND + (255,))
        out = Image.alpha_composite(background, rgba).convert("RGB")
    else:  # L, 1, P, CMYK, YCbCr, LAB, HSV, I;16 variants handled above
        out = img.convert("RGB")
    return out


def fit_to(img: Image.Image, size: tuple[int, int], resize: str = "squash") -> Image.Image:
    """Resize to exactly (height, width) = `size`, either squashing or centre-cropping."""
    h, w = size
    if resize == "center-crop":
        return ImageOps.fit(img, (w, h), Image.Resampling.BILINEAR, centering=(0.5, 0.5))
    if img.size == (w, h):
        return img
    # reduce() first for big reductions: box filtering is both faster and less aliased.
    factor = min(img.width // w, img.height // h)
    if factor >= 2:
        img = img.reduce(factor)
    return img.resize((w, h), Image.Resampling.BILINEAR)


def load_for_model(
    source: bytes | str | os.PathLike[str], size: tuple[int, int], resize: str = "squash"
) -> np.ndarray:
    """Pixels ready for an encoder: uint8 array of shape (height, width, 3)."""
    import numpy as np

    h, w = size
    need = max(h, w) if resize == "center-crop" else None
    img = open_upright(source, (need, need) if need else (w, h))
    return np.asarray(fit_to(img, size, resize), dtype=np.uint8)


def decode_for_index(path: str, size: tuple[int, int], resize: str = "squash") -> DecodedPhoto:
    """Read a file once, hash it, and decode it to model pixels plus what the store records."""
    data = read_file(path)
    return decode_bytes_for_index(data, size, resize)


def decode_bytes_for_index(
    data: bytes, size: tuple[int, int], resize: str = "squash", digest: bytes | None = None
) -> DecodedPhoto:
    """Model pixels, upright size, capture date and content hash from one file's bytes.

    The file is parsed once: its header gives the size, orientation and date, then the same
    opened image is decoded. `digest` is the content hash when the caller already has it.
    """
    h, w = size
    need = max(h, w) if resize == "center-crop" else None
    with _decode_errors():
        img = _open_in_memory(data)
        orientation = _orientation(img)
        full_w, full_h = img.size
        if orientation in (5, 6, 7, 8):
            full_w, full_h = full_h, full_w
        taken = _taken(img)
        img = _load_upright(img, orientation, (need, need) if need else (w, h))
    pixels = fit_to(img, size, resize)
    # From the model's squashed pixels when it has them: ~0.1 ms instead of ~0.3 ms from the
    # larger draft-decoded image, and the same picture at 32 x 32.
    signature = pixel_signature(pixels if resize == "squash" else img)
    return DecodedPhoto(pixels, full_w, full_h, taken, digest or content_hash(data), signature)


def _taken(img: Image.Image) -> str | None:
    """EXIF DateTimeOriginal, with its fraction of a second when the camera wrote one
    ("2015:04:10 20:12:23.550"): two shots of one burst share their second, not the fraction,
    and the duplicate finder must tell them from copies of one shot."""
    try:
        exif = img.getexif()
        ifd = exif.get_ifd(_EXIF_IFD)
        original = ifd.get(_DATETIME_ORIGINAL)
        value = original or exif.get(_DATETIME)
        subsec = ifd.get(_SUBSEC_ORIGINAL) if original else None
    except Exception:
        return None
    value = _ascii(value)
    if value is None or len(value) < 10 or not value[:4].isdigit():
        return None
    fraction = _ascii(subsec)
    if len(value) == 19 and fraction and fraction.isdigit():
        value = f"{value}.{fraction}"
    return value


def _ascii(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return value.strip("\x00 ") if isinstance(value, str) else None


def make_thumbnail(source: bytes | str | os.PathLike[str], max_side: int) -> Image.Image:
    """An upright RGB thumbnail whose long side is at most `max_side`."""
    img = open_upright(source, (max_side, max_side))
    if max(img.size) > max_side:
        img = img.copy()
        img.thumbnail((max_side, max_side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return img
