"""Odd inputs: every file is either indexed correctly (checked through what the encoder saw) or
skipped with a stated reason, in the core and through the `photosort` command."""

from __future__ import annotations

import builtins
import json
import os
import shutil
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photosort.cli import main
from photosort.core.decode import DecodeError, make_thumbnail
from photosort.core.encoders import Registry
from photosort.core.files import display_path
from photosort.core.indexer import Indexer, IndexReport
from photosort.core.store import Store
from tests.conftest import REPO, make_photo
from tests.reliability.helpers import (
    _png_chunk,
    assert_quadrants_upright,
    assert_store_consistent,
    assert_store_matches_disk,
    cli,
    huge_png,
    latent_as_image,
    oriented_jpeg,
    photo_files,
    solid,
)

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
NON_UTF8 = b"caf\xe9-\xff.jpg"  # Latin-1 bytes: not valid UTF-8


def _near(got: np.ndarray, want: tuple[int, int, int], tol: int = 16) -> bool:
    return bool(np.abs(got.astype(np.int32) - np.asarray(want)).max() <= tol)


# -- the odd files ----------------------------------------------------------------------------


def _truncated(path: Path) -> None:
    make_photo(path, 11, size=(640, 480), quality=90)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _cmyk(path: Path) -> None:
    Image.new("CMYK", (64, 48), (0, 255, 255, 0)).save(path, quality=95)  # red in CMYK


def _grey16(path: Path) -> None:
    Image.fromarray(np.full((48, 64), 32768, np.uint16)).save(path)


def _rgb16(path: Path) -> None:
    """A 16-bit-per-channel RGB PNG (Pillow cannot write one), orange: (65535, 32768, 0)."""
    w, h = 32, 24
    row = b"\0" + struct.pack(">HHH", 65535, 32768, 0) * w
    header = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(row * h))
        + _png_chunk(b"IEND", b"")
    )


def _palette_transparent(path: Path) -> None:
    """Left half red, right half a fully transparent palette entry (shown on white)."""
    img = Image.new("P", (64, 48), 0)
    img.putpalette([255, 0, 0, 0, 0, 0] + [0] * (256 * 3 - 6))
    img.paste(1, (32, 0, 64, 48))
    img.save(path, transparency=1)
    assert Image.open(path).mode == "P" and "transparency" in Image.open(path).info


def _animated(path: Path) -> None:
    frames = [Image.new("RGB", (64, 48), c) for c in (RED, BLUE, GREEN)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(path).n_frames == 3


def _split(path: Path, size: tuple[int, int], vertical: bool) -> None:
    w, h = size
    arr = np.zeros((h, w, 3), np.uint8)
    if vertical:
        arr[: h // 2], arr[h // 2 :] = RED, BLUE
    else:
        arr[:, : w // 2], arr[:, w // 2 :] = RED, BLUE
    Image.fromarray(arr).save(path, quality=95)


def _png_named_jpg(path: Path) -> None:
    Image.new("RGB", (64, 48), GREEN).save(path, format="PNG")
    assert path.read_bytes()[:4] == b"\x89PNG"


def _bad_exif(path: Path) -> None:
    exif = Image.Exif()
    exif[274] = 9  # no such orientation: must be ignored, not crash
    Image.new("RGB", (64, 48), BLUE).save(path, quality=95, exif=exif)


def _symlink_loop(path: Path) -> None:
    other = path.with_name("loop-b.jpg")
    os.symlink(other.name, path)
    os.symlink(path.name, other)


def _folder_loop(path: Path) -> None:
    os.symlink("..", path)  # sub-folder/up -> parent: walking it would never end


@dataclass(frozen=True)
class Odd:
    name: str | bytes
    make: Callable[[Path], object]
    #: Indexed: check(upright 8×8 image the encoder saw, (width, height)). Skipped: reason text.
    check: Callable[[np.ndarray, tuple[int, int]], None] | None = None
    reason: str | None = None


def _solid_check(rgb: tuple[int, int, int], size: tuple[int, int] = (64, 48)):
    def check(seen: np.ndarray, wh: tuple[int, int]) -> None:
        assert wh == size
        assert all(_near(px, rgb) for px in seen.reshape(-1, 3)), seen[::3, ::3].tolist()

    return check


def _halves_check(first, second, size, vertical=False):
    def check(seen: np.ndarray, wh: tuple[int, int]) -> None:
        assert wh == size
        a, b = (seen[1, :], seen[6, :]) if vertical else (seen[:, 1], seen[:, 6])
        assert all(_near(px, first) for px in a), seen.tolist()
        assert all(_near(px, second) for px in b), seen.tolist()

    return check


ODD = [
    Odd("zero-byte.jpg", lambda p: p.write_bytes(b""), reason="empty file (0 bytes)"),
    Odd("truncated.jpg", _truncated, reason="damaged image: image file is truncated"),
    Odd(
        "random-bytes.jpg",
        lambda p: p.write_bytes(np.random.default_rng(7).bytes(6000)),
        reason="not a recognised image format",
    ),
    Odd(
        "huge-100000x100000.png",
        huge_png,
        reason="image too large: refused as a possible decompression bomb",
    ),
    Odd(
        "huge-30000x30000.png",
        lambda p: huge_png(p, 30_000, 30_000),
        reason="image too large (30000×30000 pixels): refused as a possible decompression bomb",
    ),
    Odd("cmyk.jpg", _cmyk, _solid_check(RED)),
    Odd("grey16.png", _grey16, _solid_check((128, 128, 128))),
    Odd("rgb16.png", _rgb16, _solid_check((255, 128, 0), (32, 24))),
    Odd("palette-transparent.png", _palette_transparent, _halves_check(RED, WHITE, (64, 48))),
    Odd("animated.gif", _animated, _solid_check(RED)),  # the first frame
    Odd("grey.jpg", lambda p: solid(p, (100, 100, 100)).replace(p), _solid_check((100,) * 3)),
    Odd(
        "greyscale-L.jpg",
        lambda p: Image.new("L", (64, 48), 200).save(p, quality=95),
        _solid_check((200, 200, 200)),
    ),
    Odd(
        "panorama-20to1.jpg",
        lambda p: _split(p, (2000, 100), False),
        _halves_check(RED, BLUE, (2000, 100)),
    ),
    Odd(
        "panorama-1to20.jpg",
        lambda p: _split(p, (100, 2000), True),
        _halves_check(RED, BLUE, (100, 2000), vertical=True),
    ),
    Odd("png-named.jpg", _png_named_jpg, _solid_check(GREEN)),
    Odd("bad-exif-orientation.jpg", _bad_exif, _solid_check(BLUE)),
    Odd(NON_UTF8, lambda p: solid(p, (255, 255, 0), quality=95), _solid_check((255, 255, 0))),
    Odd("broken-link.jpg", lambda p: os.symlink("missing.jpg", p), reason="broken link"),
    Odd("loop-a.jpg", _symlink_loop, reason="broken link"),  # and loop-b.jpg
]
SKIPPED_NAMES = {"loop-b.jpg": "broken link"}


def odd_path(folder: Path, odd: Odd) -> Path:
    name = odd.name if isinstance(odd.name, str) else os.fsdecode(odd.name)
    return folder / name


def build_odd_folder(folder: Path) -> None:
    folder.mkdir(parents=True)
    for odd in ODD:
        odd.make(odd_path(folder, odd))
    (folder / "sub").mkdir()
    _folder_loop(folder / "sub" / "up")
    os.mkfifo(folder / "sub" / "pipe.jpg")  # opening it would block for ever: never opened
    (folder / "notes.txt").write_text("not a photo")


@pytest.fixture(scope="module")
def odd_index(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("odd") / "photos"
    build_odd_folder(folder)
    db = folder.parent / "odd.sqlite3"
    encoder = Registry([REPO / "models"]).encoder("pixels-8x8")
    with Store(db) as store:
        report = Indexer(store, encoder, batch_size=4).index_folder(folder)
        paths, matrix = store.latents_under(folder, "pixels-8x8")
        infos = {i.path: i for i in store.photo_infos_under(folder)}
        failures = store.failures_under(folder)
    seen = {p: latent_as_image(matrix[i]) for i, p in enumerate(paths)}
    return folder, db, report, seen, infos, failures


def _ids() -> list[str]:
    return [o.name if isinstance(o.name, str) else "non-utf8-name" for o in ODD]


@pytest.mark.parametrize("odd", ODD, ids=_ids())
def test_odd_file_is_indexed_correctly_or_skipped_with_its_reason(odd: Odd, odd_index) -> None:
    folder, _db, report, seen, infos, _failures = odd_index
    path = str(odd_path(folder, odd))
    skipped = dict(report.skipped)
    if odd.check is not None:
        assert path not in skipped, skipped.get(path)
        assert path in seen, f"{display_path(path)} was neither indexed nor skipped"
        info = infos[path]
        odd.check(seen[path], (info.width, info.height))
    else:
        assert path not in seen
        assert odd.reason is not None and odd.reason in skipped[path], skipped.get(path)


def test_the_odd_folder_as_a_whole(odd_index) -> None:
    folder, db, report, seen, infos, failures = odd_index
    indexed = {str(odd_path(folder, o)) for o in ODD if o.check}
    assert set(seen) == set(infos) == indexed
    assert report.indexed == len(indexed) and not report.cancelled
    assert dict(report.skipped)[str(folder / "loop-b.jpg")] == SKIPPED_NAMES["loop-b.jpg"]
    # Decoding failures are remembered (with the reason the app shows); walk problems are not.
    assert sorted(os.path.basename(p) for p in failures) == sorted(
        [
            "zero-byte.jpg",
            "truncated.jpg",
            "random-bytes.jpg",
            "huge-100000x100000.png",
            "huge-30000x30000.png",
        ]
    )
    assert str(folder / "sub" / "pipe.jpg") not in dict(report.skipped)  # a FIFO is not a photo
    assert_store_consistent(db)


@pytest.mark.parametrize("odd", ODD, ids=_ids())
def test_thumbnail_of_odd_file_is_upright_rgb_or_a_decode_error(odd: Odd, odd_index) -> None:
    folder = odd_index[0]
    path = odd_path(folder, odd)
    if odd.check is None:
        with pytest.raises(DecodeError):
            make_thumbnail(path, 128)
        return
    thumb = make_thumbnail(path, 128)
    assert thumb.mode == "RGB" and max(thumb.size) <= 128 and min(thumb.size) >= 1
    w, h = odd_index[4][str(path)].width, odd_index[4][str(path)].height
    if max(w, h) >= 128:
        assert max(thumb.size) == 128
    assert (thumb.width >= thumb.height) == (w >= h)  # orientation of the frame kept


def test_odd_folder_through_the_command_line(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    build_odd_folder(folder)
    db = tmp_path / "cli.sqlite3"
    n_indexed = sum(1 for o in ODD if o.check)
    n_skipped = sum(1 for o in ODD if o.check is None) + len(SKIPPED_NAMES)
    proc = cli("index", folder, "--db", db)
    out, err = proc.stdout.decode(), proc.stderr.decode("utf-8", "replace")
    assert f"{n_indexed} indexed" in out and f"{n_skipped} skipped" in out
    for odd in ODD:
        if odd.reason:
            line = f"skipped {display_path(str(odd_path(folder, odd)))}: {odd.reason}"
            assert line in err, err
    assert "pipe.jpg" not in err
    # The non-UTF-8 name, as the reference of a ranking and in the JSON output.
    ref = os.path.join(os.fsencode(folder), NON_UTF8)
    proc = cli("sort", folder, "--like", ref, "--json", "--db", db)
    ranking = json.loads(proc.stdout.decode("utf-8"))
    assert ranking[0] == {"path": display_path(os.fsdecode(ref)), "distance": 0.0}
    assert "caf\\xe9-\\xff.jpg" in ranking[0]["path"]
    assert len(ranking) == n_indexed == len({r["path"] for r in ranking})
    plain = cli("sort", folder, "--like", ref, "--db", db).stdout.decode("utf-8")
    assert plain.splitlines()[0].endswith(display_path(os.fsdecode(ref)))
    # Exporting keeps the exact bytes of the name and of the photo.
    dest = tmp_path / "export"
    cli("export", folder, "--like", ref, "--to", dest, "--pattern", "{name}", "--db", db)
    copy = os.path.join(os.fsencode(dest), NON_UTF8)
    assert Path(os.fsdecode(copy)).read_bytes() == Path(os.fsdecode(ref)).read_bytes()
    manifest = (dest / "photosort-export.csv").read_text("utf-8")
    assert display_path(os.fsdecode(ref)) in manifest
    assert sorted(os.listdir(dest)) == sorted(
        [os.path.basename(str(odd_path(folder, o))) for o in ODD if o.check]
        + ["photosort-export.csv"]
    )


# -- orientation, end to end -----------------------------------------------------------------


@pytest.fixture(scope="module")
def oriented(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("orient")
    paths = {o: oriented_jpeg(folder / f"orientation-{o}.jpg", o) for o in range(1, 9)}
    big = {o: oriented_jpeg(folder / "big" / f"big-{o}.jpg", o, 2400, 1500) for o in range(1, 9)}
    encoder = Registry([REPO / "models"]).encoder("pixels-8x8")
    with Store(folder / "o.sqlite3") as store:
        report = Indexer(store, encoder).index_folder(folder)
        latents = dict(zip(*store.latents_under(folder, "pixels-8x8"), strict=True))
        infos = {i.path: i for i in store.photo_infos_under(folder)}
    assert report.indexed == 16 and not report.skipped
    return paths, big, latents, infos


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_upright_for_the_encoder_and_in_thumbnails(
    orientation: int, oriented
) -> None:
    paths, big, latents, infos = oriented
    for path, size in ((paths[orientation], (640, 400)), (big[orientation], (2400, 1500))):
        assert_quadrants_upright(latent_as_image(latents[str(path)]))
        info = infos[str(path)]
        assert (info.width, info.height) == size  # the upright size
        for side in (48, 160, 300):  # JPEG draft scales 1/8 .. 1/2 of the stored pixels
            thumb = make_thumbnail(path, side)
            assert thumb.size == (side, round(side * size[1] / size[0])), (side, thumb.size)
            assert_quadrants_upright(np.asarray(thumb))


# -- unreadable files ------------------------------------------------------------------------


@pytest.fixture
def locked_folder(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "photos"
    for i in range(3):
        make_photo(folder / f"ok{i}.jpg", i)
    locked = make_photo(folder / "locked.jpg", 9)
    return folder, locked


def test_mode_000_file(locked_folder, db_path: Path, pixels_encoder) -> None:
    folder, locked = locked_folder
    os.chmod(locked, 0)
    try:
        with Store(db_path) as store:
            report = Indexer(store, pixels_encoder).index_folder(folder)
    finally:
        os.chmod(locked, 0o644)
    if os.geteuid() == 0:  # root reads it anyway: then it must simply be indexed
        assert report.indexed == 4 and not report.skipped
    else:
        assert report.skipped == [(str(locked), "permission denied")]


@pytest.fixture
def deny_open(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Paths whose opening raises PermissionError, as mode 000 does for a normal user."""
    denied: set[str] = set()
    real_open = builtins.open

    def guarded_open(file, *args, **kwargs):
        if isinstance(file, str | bytes | os.PathLike) and os.fsdecode(file) in denied:
            raise PermissionError(13, "Permission denied", os.fsdecode(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    return denied


def test_unreadable_file_is_skipped_then_indexed_once_readable(
    locked_folder, db_path: Path, pixels_encoder, deny_open: set[str]
) -> None:
    folder, locked = locked_folder
    deny_open.add(str(locked))
    with Store(db_path) as store:
        report = Indexer(store, pixels_encoder).index_folder(folder)
        assert report.indexed == 3
        assert report.skipped == [(str(locked), "permission denied")]
        assert store.failures_under(folder)[str(locked)].reason == "permission denied"
        # The user fixes the permissions (which changes neither size nor mtime) and reruns.
        deny_open.clear()
        again = Indexer(store, pixels_encoder).index_folder(folder)
        assert (again.indexed, again.skipped) == (1, [])
        assert store.failures_under(folder) == {}
    assert_store_matches_disk(db_path, photo_files(folder))


def test_unreadable_file_through_the_command_line(
    locked_folder, db_path: Path, deny_open: set[str], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, locked = locked_folder
    deny_open.add(str(locked))
    assert main(["index", str(folder), "--db", str(db_path)]) == 0
    captured = capsys.readouterr()
    assert f"skipped {locked}: permission denied" in captured.err
    assert "3 indexed" in captured.out and "1 skipped" in captured.out


# -- files changing under the indexer ----------------------------------------------------------


def test_files_deleted_or_rewritten_while_indexing(
    tmp_path: Path, db_path: Path, pixels_encoder
) -> None:
    folder = tmp_path / "photos"
    files = [make_photo(folder / f"p{i:02d}.jpg", i) for i in range(40)]
    deleted_early = files[0:4]  # after the scan, before any decode
    rewritten_early = files[4:8]  # new pixels after the scan
    garbled_early = files[8:10]  # turned into garbage after the scan
    late = files[20:40]  # changed while earlier batches are being written
    calls = {"n": 0}

    def meddle(p) -> None:
        calls["n"] += 1
        if calls["n"] == 1:  # the first report comes after the scan, before decoding
            assert p.done == 0
            for f in deleted_early:
                f.unlink()
            for i, f in enumerate(rewritten_early):
                make_photo(f, 500 + i, size=(80, 60))
            for f in garbled_early:
                f.write_bytes(b"garbage" * 10)
        elif calls["n"] == 3:
            for f in late[::3]:
                f.unlink()
            for i, f in enumerate(late[1::3]):
                make_photo(f, 900 + i, size=(70, 50))

    with Store(db_path) as store:
        report = Indexer(store, pixels_encoder, batch_size=4, decode_workers=2).index_folder(
            folder, progress=meddle
        )
        reasons = dict(report.skipped)
        for f in deleted_early:
            assert reasons[str(f)] == "file disappeared"
        for f in garbled_early:
            assert reasons[str(f)] == "not a recognised image format"
        assert_store_consistent(db_path)
        # The next run catches up with whatever happened behind the first run's back.
        Indexer(store, pixels_encoder).index_folder(folder)
        on_disk = photo_files(folder)
        assert_store_matches_disk(
            db_path, [p for p in on_disk if p not in {str(f) for f in garbled_early}]
        )
        assert set(store.failures_under(folder)) == {str(f) for f in garbled_early}
        # What is stored for a rewritten file is the encoding of its new pixels.
        paths, matrix = store.latents_under(folder, "pixels-8x8")
        rows = dict(zip(paths, matrix, strict=True))
        for f in rewritten_early + late[1::3]:
            from photosort.core.decode import load_for_model

            want = pixels_encoder.encode(load_for_model(f, (64, 64))[None])[0]
            np.testing.assert_allclose(rows[str(f)], want, atol=1e-5)


def test_folder_replaced_by_a_file_or_removed_during_index(
    tmp_path: Path, db_path: Path, pixels_encoder
) -> None:
    folder = tmp_path / "photos"
    for i in range(12):
        make_photo(folder / "sub" / f"p{i}.jpg", i)
    make_photo(folder / "top.jpg", 99)

    def pull_the_rug(p) -> None:
        if p.done == 0 and (folder / "sub").exists():
            shutil.rmtree(folder / "sub")

    with Store(db_path) as store:
        report = Indexer(store, pixels_encoder, batch_size=2).index_folder(
            folder, progress=pull_the_rug
        )
        assert report.indexed == 1
        assert {r for _, r in report.skipped} == {"file disappeared"}
        Indexer(store, pixels_encoder).index_folder(folder)
    assert_store_matches_disk(db_path, [str(folder / "top.jpg")])


def test_index_report_skips_never_hold_the_same_file_twice(odd_index) -> None:
    report: IndexReport = odd_index[2]
    paths = [p for p, _ in report.skipped]
    assert len(paths) == len(set(paths))


@pytest.mark.parametrize("encoding", ["utf-8", "ascii"])
def test_odd_names_print_on_any_terminal(tmp_path: Path, db_path: Path, encoding: str) -> None:
    """Names that are not valid UTF-8, or that the terminal's encoding cannot show (a Windows
    pipe uses the ANSI code page), are printed escaped rather than crashing the command."""
    folder = tmp_path / "photos"
    raw = os.path.join(os.fsencode(folder), NON_UTF8)
    solid(Path(os.fsdecode(raw)), (255, 255, 0))
    make_photo(folder / "日本.jpg", 1)
    make_photo(folder / "café.jpg", 2)
    env = {"PYTHONIOENCODING": encoding}
    proc = cli("sort", folder, "--like", raw, "--json", "--db", db_path, env=env)
    ranking = json.loads(proc.stdout.decode(encoding))
    assert ranking[0] == {"path": display_path(os.fsdecode(raw)), "distance": 0.0}
    assert sorted(r["path"] for r in ranking[1:]) == sorted(
        [str(folder / "café.jpg"), str(folder / "日本.jpg")]
    )
    plain = cli("sort", folder, "--like", raw, "--db", db_path, env=env).stdout.decode(encoding)
    assert len(plain.splitlines()) == 3 and "caf\\xe9-\\xff.jpg" in plain
    dry = cli(
        "export", folder, "--like", raw, "--to", tmp_path / "out", "--dry-run", "--db", db_path,
        env=env,
    ).stdout.decode(encoding)  # fmt: skip
    assert dry.splitlines()[0] == f"0001_caf\\xe9-\\xff.jpg\t{display_path(os.fsdecode(raw))}"
    assert len(dry.splitlines()) == 3


def test_unplugged_disk_forgets_nothing(tmp_path: Path, db_path: Path) -> None:
    """A folder that vanished (disk unplugged, share offline) is refused, not taken as empty."""
    folder = tmp_path / "disk" / "photos"
    for i in range(5):
        make_photo(folder / f"p{i}.jpg", 70 + i)
    cli("index", folder, "--db", db_path)
    shutil.move(tmp_path / "disk", tmp_path / "unplugged")
    for args in (("index", folder), ("sort", folder, "--like", folder / "p0.jpg")):
        proc = cli(*args, "--db", db_path, check=False)
        assert proc.returncode == 1 and b"no such" in proc.stderr
    shutil.move(tmp_path / "unplugged", tmp_path / "disk")
    again = cli("index", folder, "--db", db_path)
    assert "5 unchanged" in again.stdout.decode()
