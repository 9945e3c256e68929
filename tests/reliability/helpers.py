"""Shared helpers of the reliability suite: odd files, CLI runs and store consistency checks."""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from blake3 import blake3
from PIL import Image

from photosort.core.files import path_to_key
from tests.conftest import STORED_AS

#: What a user must never see on stderr.
FORBIDDEN_STDERR = ("Traceback", "database is locked", "unexpected error")


def cli(
    *args: str | os.PathLike[str] | bytes,
    check: bool = True,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[bytes]:
    """Run `python -m photosort ARGS`; stdout and stderr are kept as bytes (names may be odd)."""
    argv = [sys.executable, "-m", "photosort", *(os.fsencode(a) for a in args)]
    proc = subprocess.run(
        argv, capture_output=True, timeout=timeout, env={**os.environ, **(env or {})}
    )
    if check:
        assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    assert_clean_stderr(proc.stderr)
    return proc


def popen_cli(*args: str | os.PathLike[str], **kwargs) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "photosort", *(os.fspath(a) for a in args)]
    return subprocess.Popen(argv, **kwargs)


def assert_clean_stderr(stderr: bytes | str) -> None:
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    for bad in FORBIDDEN_STDERR:
        assert bad not in text, text


def sha256(path: str | os.PathLike[str]) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def tree_digests(folder: Path) -> dict[str, str]:
    """Every regular file below `folder` (any name) -> its SHA-256."""
    out = {}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            if os.path.isfile(path) and not os.path.islink(path):
                out[path] = sha256(path)
    return out


def blake(path: str) -> bytes:
    """The content hash the store should hold for `path` (BLAKE3, 128 bits), computed here."""
    with open(path, "rb") as fh:
        return blake3(fh.read()).digest(16)


# -- odd files --------------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_png(path: Path, width: int = 100_000, height: int = 100_000) -> Path:
    """A valid-looking PNG whose header declares width × height RGB pixels (tiny file)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 4096))
        + _png_chunk(b"IEND", b"")
    )
    path.write_bytes(data)
    return path


def solid(path: Path, rgb: tuple[int, int, int], size: tuple[int, int] = (64, 48), **save) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, rgb).save(path, **save)
    return path


def jpeg_bytes(img: Image.Image, **save) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", **save)
    return buf.getvalue()


QUADRANTS = {  # the upright test pattern: a distinct colour in every quadrant
    "top_left": (255, 0, 0),
    "top_right": (0, 255, 0),
    "bottom_left": (0, 0, 255),
    "bottom_right": (255, 255, 255),
}


def quadrant_image(width: int, height: int) -> Image.Image:
    arr = np.zeros((height, width, 3), np.uint8)
    hh, hw = height // 2, width // 2
    arr[:hh, :hw] = QUADRANTS["top_left"]
    arr[:hh, hw:] = QUADRANTS["top_right"]
    arr[hh:, :hw] = QUADRANTS["bottom_left"]
    arr[hh:, hw:] = QUADRANTS["bottom_right"]
    return Image.fromarray(arr, "RGB")


def oriented_jpeg(path: Path, orientation: int, width: int = 640, height: int = 400) -> Path:
    """A JPEG that shows the quadrant pattern upright only when its EXIF orientation is applied."""
    img = quadrant_image(width, height)
    for op in STORED_AS[orientation]:
        img = img.transpose(op)
    exif = Image.Exif()
    exif[274] = orientation
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, quality=95, exif=exif)
    return path


def assert_quadrants_upright(pixels: np.ndarray, tolerance: int = 40) -> None:
    """`pixels` (H×W×3 uint8) shows the quadrant pattern the right way up."""
    h, w = pixels.shape[:2]
    probes = {
        "top_left": pixels[h // 4, w // 4],
        "top_right": pixels[h // 4, 3 * w // 4],
        "bottom_left": pixels[3 * h // 4, w // 4],
        "bottom_right": pixels[3 * h // 4, 3 * w // 4],
    }
    for where, got in probes.items():
        want = np.asarray(QUADRANTS[where], np.int32)
        assert np.abs(got.astype(np.int32) - want).max() <= tolerance, (where, got.tolist())


def latent_as_image(vector: np.ndarray) -> np.ndarray:
    """The pixels-8x8 latent back to the 8×8 RGB image the encoder saw (uint8 H×W×3).

    The model average-pools the 64×64 input normalised as (x/255 - 0.5) / 0.5, channel-major.
    """
    chw = np.asarray(vector, np.float32).reshape(3, 8, 8)
    return np.clip((chw.transpose(1, 2, 0) * 0.5 + 0.5) * 255.0 + 0.5, 0, 255).astype(np.uint8)


# -- store checks ------------------------------------------------------------------------------


def open_db(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(db, timeout=30)


def assert_store_consistent(db: Path, model: str = "pixels-8x8") -> dict[bytes, bytes]:
    """The structural promises of the store; returns {path key: content hash} of its photos."""
    conn = open_db(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        dup = conn.execute("SELECT path FROM photos GROUP BY path HAVING COUNT(*) > 1").fetchall()
        assert dup == []
        orphans = conn.execute(
            "SELECT COUNT(*) FROM latents WHERE photo_id NOT IN (SELECT id FROM photos)"
        ).fetchone()[0]
        assert orphans == 0
        both = conn.execute(
            "SELECT COUNT(*) FROM failures f JOIN photos p ON p.path = f.path"
        ).fetchone()[0]
        assert both == 0, "a file is both indexed and recorded as a failure"
        latent_sizes = {
            n
            for (n,) in conn.execute(
                "SELECT DISTINCT length(vector) FROM latents WHERE model=?", (model,)
            )
        }
        assert latent_sizes <= {192 * 4}
        return dict(conn.execute("SELECT path, hash FROM photos").fetchall())
    finally:
        conn.close()


def assert_store_matches_disk(db: Path, photos: Iterable[str], model: str = "pixels-8x8") -> None:
    """Exactly `photos` are stored, once each, each with a latent and its current content hash."""
    stored = assert_store_consistent(db, model)
    wanted = {path_to_key(p): p for p in photos}
    assert set(stored) == set(wanted), (
        sorted(set(stored) - set(wanted))[:5],
        sorted(set(wanted) - set(stored))[:5],
    )
    for key, digest in stored.items():
        assert digest == blake(wanted[key]), wanted[key]
    conn = open_db(db)
    try:
        without = conn.execute(
            """SELECT COUNT(*) FROM photos p WHERE NOT EXISTS
               (SELECT 1 FROM latents l WHERE l.photo_id = p.id AND l.model = ?)""",
            (model,),
        ).fetchone()[0]
        assert without == 0
    finally:
        conn.close()


def photo_files(folder: Path, names: Sequence[str] = (".jpg", ".png")) -> list[str]:
    out = []
    for root, _dirs, files in os.walk(folder):
        out.extend(os.path.join(root, f) for f in files if f.lower().endswith(tuple(names)))
    return sorted(out)
