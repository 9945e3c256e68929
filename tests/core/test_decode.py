import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photosort.core import decode
from photosort.core.decode import (
    DecodeError,
    decode_for_index,
    load_for_model,
    make_thumbnail,
    open_upright,
)
from tests.conftest import STORED_AS, make_photo


def test_jpeg_is_decoded_at_the_smallest_sufficient_dct_scale(tmp_path: Path) -> None:
    path = make_photo(tmp_path / "big.jpg", 1, size=(2400, 1600), quality=90)
    img = open_upright(path, (64, 64))
    assert img.size == (300, 200)  # 1/8 scale still covers 64×64
    img = open_upright(path, (400, 400))
    assert img.size == (600, 400)  # 1/4 scale: 1/8 would give 200 px < 400
    assert open_upright(path).size == (2400, 1600)


def _with_orientation(path: Path, orientation: int) -> Path:
    """A 60×40 image whose top-left quadrant is red, rotated/flipped as EXIF `orientation` says
    the camera stored it, so that applying the orientation makes it upright again."""
    upright = np.zeros((40, 60, 3), np.uint8)
    upright[:20, :30] = (255, 0, 0)
    img = Image.fromarray(upright)
    for op in STORED_AS[orientation]:
        img = img.transpose(op)
    exif = Image.Exif()
    exif[274] = orientation
    img.save(path, quality=95, exif=exif)
    return path


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_ends_upright(tmp_path: Path, orientation: int) -> None:
    path = _with_orientation(tmp_path / f"o{orientation}.jpg", orientation)
    img = np.asarray(open_upright(path))
    assert img.shape == (40, 60, 3)
    assert img[5, 5, 0] > 200 and img[5, 5, 1] < 60  # red top-left
    assert img[35, 55].max() < 60  # black bottom-right
    thumb = np.asarray(make_thumbnail(path, 30))
    assert thumb.shape == (20, 30, 3) and thumb[2, 2, 0] > 200
    pixels = load_for_model(path, (8, 8))
    assert pixels[1, 1, 0] > 200 and pixels[7, 7].max() < 80
    info = decode_for_index(str(path), (8, 8))
    assert (info.width, info.height) == (60, 40)


def test_modes_become_rgb(tmp_path: Path) -> None:
    cmyk = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (20, 10), (0, 255, 255, 0)).save(cmyk)  # red in CMYK
    assert open_upright(cmyk).getpixel((5, 5))[0] > 200

    deep = tmp_path / "deep.png"
    Image.fromarray(np.full((10, 20), 65535, np.uint16)).save(deep)
    assert Image.open(deep).mode.startswith("I")
    assert open_upright(deep).getpixel((3, 3)) == (255, 255, 255)

    half = tmp_path / "half.png"
    Image.fromarray(np.full((10, 20), 32768, np.uint16)).save(half)
    assert 120 < open_upright(half).getpixel((3, 3))[0] < 135

    pal = tmp_path / "pal.png"
    p = Image.new("P", (10, 10), 0)
    p.putpalette([0, 0, 0, 0, 255, 0])
    p.putpixel((1, 1), 1)
    p.save(pal, transparency=0)
    out = open_upright(pal)
    assert out.mode == "RGB" and out.getpixel((5, 5)) == (255, 255, 255)  # transparent: white
    assert out.getpixel((1, 1)) == (0, 255, 0)

    grey = tmp_path / "grey.png"
    Image.new("LA", (8, 8), (100, 255)).save(grey)
    assert open_upright(grey).getpixel((0, 0)) == (100, 100, 100)


def test_gif_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert open_upright(path).getpixel((8, 8))[0] > 200


def test_heic_is_supported(tmp_path: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    path = tmp_path / "a.heic"
    try:
        pillow_heif.from_pillow(Image.new("RGB", (32, 24), (0, 200, 0))).save(path, quality=90)
    except Exception as exc:  # wheel without an encoder
        pytest.skip(f"pillow-heif cannot encode here: {exc}")
    img = open_upright(path)
    assert img.size == (32, 24) and img.getpixel((10, 10))[1] > 150


def _png_header_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


def test_decompression_bomb_is_refused_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_claiming(100_000, 100_000))
    with pytest.raises(DecodeError, match="too large|decompression bomb"):
        open_upright(path)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"definitely not an image" * 10, "not a recognised image"),
    ],
)
def test_bad_files_give_reasons(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(DecodeError, match=reason):
        open_upright(path)


def test_truncated_jpeg_is_refused(tmp_path: Path) -> None:
    path = make_photo(tmp_path / "t.jpg", 3, size=(400, 300), quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(DecodeError, match="damaged"):
        open_upright(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DecodeError, match="disappeared"):
        open_upright(tmp_path / "gone.jpg")


def test_png_with_jpg_extension_decodes(tmp_path: Path) -> None:
    path = tmp_path / "liar.jpg"
    Image.new("RGB", (12, 12), (1, 2, 3)).save(path, format="PNG")
    assert open_upright(path).getpixel((0, 0)) == (1, 2, 3)


def test_model_input_shapes_and_modes(tmp_path: Path) -> None:
    path = make_photo(tmp_path / "pano.jpg", 4, size=(2000, 100))
    squash = load_for_model(path, (32, 48), "squash")
    crop = load_for_model(path, (32, 48), "center-crop")
    assert squash.shape == crop.shape == (32, 48, 3)
    assert squash.dtype == np.uint8


def test_content_hash_is_of_the_bytes(tmp_path: Path) -> None:
    a = make_photo(tmp_path / "a.png", 5)
    b = tmp_path / "b.png"
    b.write_bytes(a.read_bytes())
    assert decode_for_index(str(a), (8, 8)).content_hash == decode.content_hash(b.read_bytes())
    buf = io.BytesIO()
    Image.open(a).save(buf, format="PNG", compress_level=1)
    assert decode.content_hash(buf.getvalue()) != decode.content_hash(a.read_bytes())


def test_exif_date_taken_is_read(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[36867] = "2021:07:14 09:30:00"
    path = tmp_path / "dated.jpg"
    Image.new("RGB", (16, 16)).save(path, exif=exif)
    assert decode_for_index(str(path), (8, 8)).taken == "2021:07:14 09:30:00"


def test_the_fraction_of_a_second_is_kept_with_the_date_taken(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[36867] = "2015:04:10 20:12:23"
    exif.get_ifd(0x8769)[37521] = "550"
    path = tmp_path / "burst.jpg"
    Image.new("RGB", (16, 16), "red").save(path, exif=exif)
    assert decode_for_index(str(path), (8, 8)).taken == "2015:04:10 20:12:23.550"
