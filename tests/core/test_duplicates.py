"""Duplicate groups on real files, indexed by the real indexer with a real ONNX encoder."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from photosort.core import duplicates as dup
from photosort.core.encoders import Registry
from photosort.core.indexer import Indexer
from photosort.core.store import Store
from tests.conftest import REPO, make_photo

SIZE = (320, 240)


@pytest.fixture
def calibrated(tmp_path: Path) -> Registry:
    """pixels-8x8 with duplicate thresholds of its own, so the tests do not depend on the
    values a calibration run wrote into the shipped manifests."""
    models = tmp_path / "models"
    models.mkdir()
    raw = json.loads((REPO / "models" / "pixels-8x8.json").read_text())
    raw["duplicates"] = {"near_copy_distance": 0.5, "similar_distance": 0.05}
    (models / "pixels-8x8.json").write_text(json.dumps(raw))
    shutil.copy(REPO / "models" / raw["encoder"], models / raw["encoder"])
    return Registry([models])


def make_family(folder: Path, seed: int) -> dict[str, Path]:
    """An original and the copies people make of it."""
    orig = make_photo(folder / f"f{seed}_original.jpg", seed, SIZE, quality=92)
    img = Image.open(orig).convert("RGB")
    w, h = img.size
    out = {"original": orig}
    out["exact"] = folder / "copies" / f"f{seed}_original.jpg"
    out["exact"].parent.mkdir(exist_ok=True)
    shutil.copy(orig, out["exact"])
    out["resized"] = folder / f"f{seed}_small.jpg"
    img.resize((w // 3, h // 3), Image.Resampling.LANCZOS).save(out["resized"], quality=80)
    out["cropped"] = folder / f"f{seed}_crop.jpg"
    img.crop((int(w * 0.06), int(h * 0.04), int(w * 0.94), int(h * 0.9))).save(out["cropped"])
    out["rotated"] = folder / f"f{seed}_turned.png"
    img.transpose(Image.Transpose.ROTATE_90).save(out["rotated"])
    marked = img.copy()
    ImageDraw.Draw(marked).text((w - 90, h - 20), "(c) family", fill=(255, 255, 255))
    out["watermark"] = folder / f"f{seed}_marked.jpg"
    marked.save(out["watermark"], quality=85)
    return out


def make_family_among_others(folder: Path, seed: int, others: range) -> dict[str, Path]:
    """make_family's photos, and unrelated photos beside them."""
    fam = make_family(folder, seed)
    for other in others:
        make_photo(folder / f"other{other}.jpg", other, SIZE, quality=90)
    return fam


def index(folder: Path, db: Path, registry: Registry) -> Store:
    store = Store(db)
    Indexer(store, registry.encoder("pixels-8x8")).index_folder(folder)
    return store


def test_an_original_and_its_copies_form_one_group_and_other_photos_none(
    tmp_path: Path, calibrated: Registry
) -> None:
    folder = tmp_path / "photos"
    fam = make_family_among_others(folder, 1, range(20, 26))
    with index(folder, tmp_path / "db.sqlite3", calibrated) as store:
        report = dup.find_duplicates(store, folder, calibrated.info("pixels-8x8"))
    assert not report.notes
    assert len(report.groups) == 1
    group = report.groups[0]
    assert set(group.paths) == {str(p) for p in fam.values()}
    assert group.keeper.path in (str(fam["original"]), str(fam["exact"]))
    assert group.reason
    assert group.reclaimable() == sum(p.stat().st_size for p in fam.values()) - group.keeper.size


def test_exact_strictness_groups_identical_files_only(tmp_path: Path, calibrated) -> None:
    folder = tmp_path / "photos"
    fam = make_family(folder, 2)
    with index(folder, tmp_path / "db.sqlite3", calibrated) as store:
        report = dup.find_duplicates(store, folder, calibrated.info("pixels-8x8"), "exact")
    assert [sorted(g.paths) for g in report.groups] == [
        sorted([str(fam["original"]), str(fam["exact"])])
    ]
    assert report.groups[0].kind == "exact"


def test_without_a_calibrated_threshold_copies_are_still_found_and_it_says_so(
    tmp_path: Path, registry: Registry
) -> None:
    folder = tmp_path / "photos"
    fam = make_family(folder, 3)
    with index(folder, tmp_path / "db.sqlite3", registry) as store:
        report = dup.find_duplicates(store, folder, registry.info("pixels-8x8"))
    assert any("no calibrated duplicate threshold" in n for n in report.notes)
    assert any("--calibrate --model pixels-8x8" in n for n in report.notes)
    (group,) = report.groups
    found = set(group.paths)
    for kind in ("original", "exact", "resized", "rotated", "watermark"):
        assert str(fam[kind]) in found, kind


def test_photos_indexed_before_signatures_existed_get_one(tmp_path: Path, calibrated) -> None:
    folder = tmp_path / "photos"
    fam = make_family(folder, 4)
    with index(folder, tmp_path / "db.sqlite3", calibrated) as store:
        with store.transaction() as conn:  # (nor did links: they are compared afresh)
            for table in ("signatures", "duplicate_links", "duplicate_checked"):
                conn.execute(f"DELETE FROM {table}")
        report = dup.find_duplicates(store, folder, calibrated.info("pixels-8x8"))
        assert len(report.groups) == 1 and len(report.groups[0].photos) == len(fam)
        assert store._conn.execute("SELECT COUNT(*) FROM signatures").fetchone()[0] == len(fam)


def test_signatures_follow_the_photo_like_latents(tmp_path: Path, calibrated) -> None:
    folder = tmp_path / "photos"
    a = make_photo(folder / "a.jpg", 1, SIZE)
    db = tmp_path / "db.sqlite3"
    with index(folder, db, calibrated) as store:
        (pid,) = [r.id for r in store.photos_under(folder).values()]
        first = store._conn.execute("SELECT data FROM signatures WHERE photo_id = ?", (pid,))
        assert len(first.fetchone()[0]) == 32 * 32
    shutil.copy(a, folder / "copy.jpg")  # a copy is recognised by its hash: not decoded
    with index(folder, db, calibrated) as store:
        assert store._conn.execute("SELECT COUNT(*) FROM signatures").fetchone()[0] == 2
    make_photo(a, 2, SIZE)  # an edit: the old signature described other pixels
    with Store(db) as store:
        with store.transaction() as conn:
            store.upsert_photo(conn, str(a), a.stat().st_size, a.stat().st_mtime_ns, b"new")
        assert store._conn.execute("SELECT COUNT(*) FROM signatures").fetchone()[0] == 1


def _photo(i: int, **kw) -> dup.Photo:
    base = dict(size=1000, mtime_ns=i, hash=bytes([i]), width=100, height=100, taken=None)
    base.update(kw)
    return dup.Photo(i, f"/p/{i}.jpg", **base)


def test_a_chain_of_look_alikes_never_becomes_one_group() -> None:
    # 0~1~2~3~4~5~6: each only like its neighbours (edges given directly).
    edges = {(i, i + 1): 1.0 for i in range(6)}
    groups = dup._centre_groups(7, edges, None)
    for g in groups:
        centre = g[0]
        assert all((min(centre, o), max(centre, o)) in edges for o in g[1:])
    assert not any({0, 6} <= set(g) or {0, 3} <= set(g) for g in groups)


def test_grouping_by_signature_alone_keeps_unrelated_pictures_apart() -> None:
    rng = np.random.default_rng(0)
    pictures = rng.integers(0, 256, (6, 32, 32)).astype(np.uint8)
    sigs = np.concatenate([pictures, pictures[:1] // 2 + 60])  # 6 is 0 darker, lower contrast
    photos = [_photo(i) for i in range(7)]
    groups = dup.group_photos(photos, sigs, None)
    assert [sorted(p.id for p in g.photos) for g in groups] == [[0, 6]]


def test_photos_taken_at_different_moments_are_not_near_copies() -> None:
    rng = np.random.default_rng(1)
    picture = rng.integers(0, 256, (32, 32)).astype(np.uint8)
    photos = [_photo(0, taken="2024:05:01 10:00:00"), _photo(1, taken="2024:05:01 10:00:02")]
    assert dup.group_photos(photos, np.stack([picture, picture]), None) == []
    photos[1] = _photo(1, taken="2024:05:01 10:00:00")
    assert len(dup.group_photos(photos, np.stack([picture, picture]), None)) == 1


def test_keeper_is_the_largest_then_the_unedited_and_the_user_can_choose() -> None:
    big, small = _photo(1, width=4000, height=3000), _photo(2, width=800, height=600)
    group = dup.Group([small, big], "near")
    dup.choose_keeper(group)
    assert group.keeper is big and group.reason == "largest, 12.0 MP"
    a, b = _photo(3), _photo(4)
    group = dup.Group([a, b], "near")
    dup.choose_keeper(group, edited=lambda path: path == a.path)
    assert group.keeper is b and group.reason == "not edited"
    group.choose_keeper(a.path)
    assert group.keeper is a and group.reason == "your choice"


def _textured(path: Path, seed: int) -> Path:
    """A photo with fine detail everywhere (foliage, gravel), so blur shows."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (60, 80, 3)).astype(np.uint8)
    img = Image.fromarray(base).resize((640, 480), Image.Resampling.BICUBIC)
    noise = rng.normal(0, 18, (480, 640, 3))
    pixels = np.clip(np.asarray(img, np.float32) + noise, 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, quality=92)
    return path


def test_sharpness_sees_blur_but_not_a_watermark_or_more_contrast(tmp_path: Path) -> None:
    from PIL import ImageEnhance, ImageFilter

    orig = _textured(tmp_path / "orig.jpg", 5)
    img = Image.open(orig)
    img.filter(ImageFilter.GaussianBlur(1.5)).save(tmp_path / "blurred.jpg", quality=92)
    marked = img.copy()
    ImageDraw.Draw(marked).text((520, 450), "(c) family 2024", fill=(255, 255, 255))
    marked.save(tmp_path / "marked.jpg", quality=92)
    ImageEnhance.Contrast(img).enhance(1.15).save(tmp_path / "contrast.jpg", quality=92)
    s = {p.stem: dup.sharpness(str(p)) for p in tmp_path.glob("*.jpg")}
    assert s["blurred"] < dup.SHARP_ENOUGH * s["orig"]
    for edited in ("marked", "contrast"):
        assert dup.SHARP_ENOUGH * s[edited] < s["orig"] < s[edited] / dup.SHARP_ENOUGH
    (tmp_path / "broken.jpg").write_bytes(b"not a photo")
    assert dup.sharpness(str(tmp_path / "broken.jpg")) is None


def test_of_same_size_shots_the_sharp_one_is_kept_even_when_newer(
    tmp_path: Path, calibrated: Registry
) -> None:
    from PIL import ImageFilter

    folder = tmp_path / "photos"
    folder.mkdir()
    sharp = _textured(folder / "IMG_0002_final_version.jpg", 7)
    blurred = folder / "b.jpg"
    Image.open(sharp).filter(ImageFilter.GaussianBlur(1.5)).save(blurred, quality=92)
    # Everything else speaks for the blurred shot: older file, shorter name.
    os.utime(blurred, ns=(1_600_000_000 * 10**9,) * 2)
    with index(folder, tmp_path / "db.sqlite3", calibrated) as store:
        report = dup.find_duplicates(store, folder, calibrated.info("pixels-8x8"), "similar")
    assert len(report.groups) == 1
    group = report.groups[0]
    assert group.keeper.path == str(sharp) and group.reason == "sharpest"
    # Without a sharpness reading, the older file would have been kept.
    plain = dup.Group(list(group.photos), group.kind)
    dup.choose_keeper(plain)
    assert plain.keeper.path == str(blurred)


def test_a_photo_with_plain_edges_is_kept_over_its_crop_and_its_framed_copy(
    tmp_path: Path, calibrated: Registry
) -> None:
    """A studio shot on white "looks framed" like a screenshot; so do its full copies. The crop
    (no plain edges) and the screenshot (more pixels) must not be kept over it."""
    folder = tmp_path / "photos"
    folder.mkdir()
    subject = Image.open(make_photo(tmp_path / "subject.jpg", 9, (300, 224))).convert("RGB")
    shot = Image.new("RGB", SIZE, (250, 250, 250))
    shot.paste(subject, (10, 8))
    orig = folder / "z_studio_original_shot.jpg"
    shot.save(orig, quality=95)
    shot.save(folder / "copy_q60.jpg", quality=60)
    shot.resize((160, 120), Image.Resampling.LANCZOS).save(folder / "copy_small.jpg")
    shot.crop((24, 18, 296, 222)).save(folder / "crop.jpg", quality=95)
    screen = Image.new("RGB", (400, 330), (40, 40, 40))
    screen.paste(shot, (40, 60))
    screen.save(folder / "screen.png")
    for name in ("crop.jpg", "screen.png", "copy_small.jpg"):
        os.utime(folder / name, ns=(1_600_000_000 * 10**9,) * 2)  # older than the original
    with index(folder, tmp_path / "db.sqlite3", calibrated) as store:
        report = dup.find_duplicates(store, folder, calibrated.info("pixels-8x8"))
    group = next(g for g in report.groups if str(orig) in g.paths)
    assert {"crop.jpg", "screen.png"} <= {Path(p).name for p in group.paths}
    assert group.keeper.path == str(orig), group.reason


def test_a_resized_copy_is_never_read_for_sharpness() -> None:
    big, small = _photo(1, width=4000, height=3000), _photo(2, width=800, height=600)
    read: list[str] = []
    group = dup.Group([small, big], "near")
    dup.choose_keeper(group, sharp=lambda path: read.append(path) or 1.0)
    assert group.keeper is big and read == []


def test_unknown_strictness_is_refused_in_words() -> None:
    with pytest.raises(dup.PhotoSortError, match="unknown strictness"):
        dup.group_photos([], None, None, "loose")


def test_neighbour_search_above_the_exact_limit_finds_near_copies() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3000, 16)).astype(np.float32)
    x[1500:1510] = x[:10] + rng.normal(scale=0.01, size=(10, 16))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    pairs = dup.neighbour_pairs(x, x, 4, 0.01, exact_up_to=100)
    found = {tuple(sorted(map(int, p))) for p in pairs if p[0] != p[1]}
    assert {(i, 1500 + i) for i in range(10)} <= found


def test_two_shots_in_one_second_are_told_apart_by_its_fraction() -> None:
    rng = np.random.default_rng(3)
    picture = rng.integers(0, 256, (32, 32)).astype(np.uint8)
    sigs = np.stack([picture, picture])
    shots = [_photo(0, taken="2015:04:10 20:12:23.550"), _photo(1, taken="2015:04:10 20:12:23.016")]
    assert dup.group_photos(shots, sigs, None) == []
    # A copy indexed before fractions were read still matches its original.
    copies = [_photo(0, taken="2015:04:10 20:12:23.550"), _photo(1, taken="2015:04:10 20:12:23")]
    assert len(dup.group_photos(copies, sigs, None)) == 1


def test_dateless_copies_go_with_the_shot_they_are_copies_of() -> None:
    rng = np.random.default_rng(4)
    a = rng.integers(0, 256, (32, 32)).astype(np.float32)
    b = np.clip(a + rng.normal(0, 12, a.shape), 0, 255)  # the next shot: alike, not the same
    sigs = np.stack([a, b, a, a, b]).astype(np.uint8)
    photos = [
        _photo(0, taken="2015:04:10 20:12:23.550"),
        _photo(1, taken="2015:04:10 20:12:23.016"),
        _photo(2),  # copies of shot 0 whose date was lost
        _photo(3),
        _photo(4),  # a copy of shot 1
    ]
    groups = dup.group_photos(photos, sigs, None)
    assert sorted(sorted(p.id for p in g.photos) for g in groups) == [[0, 2, 3], [1, 4]]
