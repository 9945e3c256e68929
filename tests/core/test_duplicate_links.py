"""Duplicate links kept in the store: found when photos are indexed, only for what is new, and
never outliving the pixels or the finder they were found with (real indexer, real SQLite)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photosort.core import duplicates as dup
from photosort.core.encoders import Registry
from photosort.core.indexer import Indexer
from photosort.core.store import Store
from tests.conftest import REPO, make_photo
from tests.core.test_duplicates import SIZE, _textured, make_family, make_family_among_others


def calibrated_registry(root: Path, near: float = 0.5, similar: float = 0.05) -> Registry:
    models = root / f"models-{near}-{similar}"
    models.mkdir(parents=True)
    raw = json.loads((REPO / "models" / "pixels-8x8.json").read_text())
    raw["duplicates"] = {"near_copy_distance": near, "similar_distance": similar}
    (models / "pixels-8x8.json").write_text(json.dumps(raw))
    shutil.copy(REPO / "models" / raw["encoder"], models / raw["encoder"])
    return Registry([models])


@pytest.fixture
def calibrated(tmp_path: Path) -> Registry:
    return calibrated_registry(tmp_path)


def index(store: Store, folder: Path, registry: Registry) -> None:
    report = Indexer(store, registry.encoder("pixels-8x8")).index_folder(folder)
    assert not report.cancelled


def links(store: Store) -> set[tuple[str, str]]:
    rows = store._conn.execute(
        """SELECT pa.path, pb.path FROM duplicate_links l
           JOIN photos pa ON pa.id = l.a JOIN photos pb ON pb.id = l.b"""
    )
    return {tuple(sorted((Path(a.decode()).name, Path(b.decode()).name))) for a, b in rows}


def checked(store: Store) -> int:
    return store._conn.execute("SELECT COUNT(*) FROM duplicate_checked").fetchone()[0]


def compared_again(store: Store, folder: Path, info, strictness: str) -> list[dup.Group]:
    """group_photos on the folder's facts: every photo compared afresh, no stored link read."""
    rows = store.duplicate_facts_under(folder, info.id)
    photos = [dup.Photo(*r[:8]) for r in rows]
    sigs = np.stack([np.frombuffer(r[8], np.uint8).reshape(32, 32) for r in rows])
    lats = np.stack([np.frombuffer(r[9], np.float32) for r in rows])
    return dup.group_photos(photos, sigs, lats, strictness, dup.Thresholds.of(info))


def grouped_paths(report: dup.Report) -> list[set[str]]:
    return sorted((set(g.paths) for g in report.groups), key=sorted)


def test_indexing_links_the_copies_and_grouping_then_reads_the_links(
    tmp_path: Path, calibrated: Registry
) -> None:
    folder = tmp_path / "photos"
    fam = make_family_among_others(folder, 1, range(20, 26))
    info = calibrated.info("pixels-8x8")
    with Store(tmp_path / "db.sqlite3") as store:
        index(store, folder, calibrated)
        # Every distinct picture was looked at once (the exact copy shares its original's).
        assert checked(store) == 11
        assert ("f1_crop.jpg", "f1_original.jpg") in links(store)
        report = dup.find_duplicates(store, folder, info)
        # Grouping from the links equals comparing everything again, here and now.
        again = compared_again(store, folder, info, "near")
    assert grouped_paths(report) == [{str(p) for p in fam.values()}]
    assert [g.paths for g in again] == [g.paths for g in report.groups]
    assert [g.reason for g in again] == [g.reason for g in report.groups]


def test_a_new_copy_is_compared_alone_and_joins_its_original(
    tmp_path: Path, calibrated: Registry
) -> None:
    folder = tmp_path / "photos"
    original = make_photo(folder / "beach.jpg", 7, SIZE, quality=92)
    for seed in range(20, 30):
        make_photo(folder / f"other{seed}.jpg", seed, SIZE, quality=90)
    info = calibrated.info("pixels-8x8")
    with Store(tmp_path / "db.sqlite3") as store:
        index(store, folder, calibrated)
        before = checked(store)
        assert dup.find_duplicates(store, folder, info).groups == []
        img = Image.open(original)
        img.resize((SIZE[0] // 2, SIZE[1] // 2)).save(folder / "beach_small.jpg", quality=60)
        img.crop((20, 12, 300, 226)).save(folder / "beach_crop.jpg", quality=90)
        index(store, folder, calibrated)
        # Only the two new photos were looked for; the links run old -> new as well.
        assert checked(store) == before + 2
        assert {("beach.jpg", "beach_small.jpg"), ("beach.jpg", "beach_crop.jpg")} <= links(store)
        report = dup.find_duplicates(store, folder, info)
    assert grouped_paths(report) == [
        {str(folder / n) for n in ("beach.jpg", "beach_small.jpg", "beach_crop.jpg")}
    ]


def test_links_found_photo_by_photo_include_those_found_all_at_once(
    tmp_path: Path, calibrated: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Copies arriving in two batches end up with every link that comparing them all at once
    finds (the new photos search the old, the old search the new, and every two photos linked
    to a third are checked). One neighbour per photo, as in a folder crowded with look-alikes,
    so that most links come from those last two routes."""
    monkeypatch.setattr(dup, "NEIGHBOURS", 1)
    folder = tmp_path / "photos"
    fam = make_family_among_others(folder, 4, range(30, 36))
    later = {fam["watermark"], fam["rotated"], folder / "other35.jpg"}
    aside = tmp_path / "aside"
    aside.mkdir()
    for path in later:
        path.rename(aside / path.name)
    info = calibrated.info("pixels-8x8")
    with Store(tmp_path / "db.sqlite3") as store:
        index(store, folder, calibrated)
        for path in later:
            (aside / path.name).rename(path)
        index(store, folder, calibrated)
        in_batches = links(store)
        with store.transaction() as conn:
            conn.execute("DELETE FROM duplicate_checked")
            conn.execute("DELETE FROM duplicate_links")
        dup.link_duplicates(store, folder, info)
        at_once = links(store)
    assert ("f4_marked.jpg", "f4_turned.png") in at_once
    assert at_once <= in_batches


def test_an_edited_photo_loses_its_links_and_is_compared_again(
    tmp_path: Path, calibrated: Registry
) -> None:
    folder = tmp_path / "photos"
    fam = make_family(folder, 2)
    info = calibrated.info("pixels-8x8")
    with Store(tmp_path / "db.sqlite3") as store:
        index(store, folder, calibrated)
        assert any("f2_small.jpg" in pair for pair in links(store))
        make_photo(fam["resized"], 99, (SIZE[0] // 3, SIZE[1] // 3))  # now another picture
        index(store, folder, calibrated)
        assert not any("f2_small.jpg" in pair for pair in links(store))
        (group,) = dup.find_duplicates(store, folder, info).groups
        assert str(fam["resized"]) not in group.paths
        fam["resized"].unlink()  # a deleted photo's links go with its row
        index(store, folder, calibrated)
        assert checked(store) == len(fam) - 2  # (the exact copy shares its original's)


def test_links_of_other_thresholds_are_not_used_and_are_dropped(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    make_family(folder, 3)
    for seed in range(20, 24):
        make_photo(folder / f"other{seed}.jpg", seed, SIZE, quality=90)
    # (so loose that every photo is a "similar shot" of every other)
    loose, strict = calibrated_registry(tmp_path, 0.5, 1.5), calibrated_registry(tmp_path, 1e-6)
    info = strict.info("pixels-8x8")
    with Store(tmp_path / "db.sqlite3") as store:
        index(store, folder, loose)
        assert links(store)
        # Another calibration: the links are looked for again, with its thresholds only.
        report = dup.find_duplicates(store, folder, info, "similar")
        recipes = store._conn.execute(
            "SELECT DISTINCT model FROM duplicate_links UNION SELECT model FROM duplicate_checked"
        ).fetchall()
        assert recipes == [(dup.links_recipe(info),)]
        again = compared_again(store, folder, info, "similar")
        with_loose = compared_again(store, folder, loose.info("pixels-8x8"), "similar")
    assert [g.paths for g in report.groups] == [g.paths for g in again]
    assert [g.paths for g in with_loose] != [g.paths for g in again]  # (the test has a point)


def test_grouping_a_parent_folder_compares_photos_across_its_subfolders(
    tmp_path: Path, calibrated: Registry
) -> None:
    """Links found within one subfolder say nothing about its neighbour: grouping the folder
    above looks again, across both."""
    info = calibrated.info("pixels-8x8")
    phone, laptop = tmp_path / "all" / "phone", tmp_path / "all" / "laptop"
    original = make_photo(phone / "cat.jpg", 5, SIZE, quality=92)
    make_photo(phone / "dog.jpg", 6, SIZE, quality=92)
    laptop.mkdir(parents=True)
    Image.open(original).resize((160, 120)).save(laptop / "cat_email.jpg", quality=70)
    make_photo(laptop / "tree.jpg", 8, SIZE, quality=92)
    with Store(tmp_path / "db.sqlite3") as store:
        index(store, phone, calibrated)
        index(store, laptop, calibrated)
        assert dup.find_duplicates(store, phone, info).groups == []
        assert links(store) == set()
        report = dup.find_duplicates(store, tmp_path / "all", info)
        # ...and the subfolders are then covered by the parent's search: no new look.
        marks = checked(store)
        assert dup.link_duplicates(store, phone, info) == []
        assert checked(store) == marks
    assert grouped_paths(report) == [{str(original), str(laptop / "cat_email.jpg")}]


@pytest.mark.parametrize("few", [dup._FEW_QUERIES, 64])
def test_fresh_rows_find_the_pairs_a_search_of_everything_finds_for_them(
    few: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The incremental search (a few new rows against all, the others against the new) finds
    every pair with a new row that the search of all rows does, on the exact and the inverted-
    file paths alike."""
    monkeypatch.setattr(dup, "_FEW_QUERIES", few)  # (64: the new rows search an inverted file)
    rng = np.random.default_rng(0)
    for n in (1000, 6000):
        base = rng.normal(size=(n, 16)).astype(np.float32)
        close = rng.choice(n, n // 10, replace=False)
        base[close[1::2]] = base[close[::2]] + 0.05 * rng.normal(size=(len(close) // 2, 16))
        base /= np.linalg.norm(base, axis=1, keepdims=True)
        fresh = np.zeros(n, bool)
        fresh[rng.choice(n, n // 4, replace=False)] = True
        rows = np.arange(n)
        every = dup._distinct_pairs(dup._candidates(base, [(rows, base)], None, 8, 0.02))
        wanted = every[fresh[every[:, 0]] | fresh[every[:, 1]]]
        got = dup._distinct_pairs(dup._candidates(base, [(rows, base)], fresh, 8, 0.02))
        assert len(wanted) > 10
        assert (fresh[got[:, 0]] | fresh[got[:, 1]]).all()
        as_keys = got[:, 0] * n + got[:, 1]
        assert np.isin(wanted[:, 0] * n + wanted[:, 1], as_keys).all(), n


def test_what_a_keeper_reads_from_files_is_read_once_and_forgotten_with_the_pixels(
    tmp_path: Path, calibrated: Registry
) -> None:
    """Sharpness decides between two shots of one size; it is measured once and kept, so a
    second grouping reads no pixels, and a re-indexed edit is measured again."""
    from PIL import ImageFilter

    folder = tmp_path / "photos"
    folder.mkdir()
    sharp = _textured(folder / "a_sharp.jpg", 7)
    blurred = folder / "b_blurred.jpg"
    Image.open(sharp).filter(ImageFilter.GaussianBlur(1.5)).save(blurred, quality=92)
    info = calibrated.info("pixels-8x8")
    with Store(tmp_path / "db.sqlite3") as store:
        index(store, folder, calibrated)
        (group,) = dup.find_duplicates(store, folder, info, "similar").groups
        assert (group.keeper.path, group.reason) == (str(sharp), "sharpest")
        # The two files swap their pixels behind the index's back: the stored readings stand.
        sharp_bytes, blurred_bytes = sharp.read_bytes(), blurred.read_bytes()
        sharp.write_bytes(blurred_bytes)
        blurred.write_bytes(sharp_bytes)
        (group,) = dup.find_duplicates(store, folder, info, "similar").groups
        assert (group.keeper.path, group.reason) == (str(sharp), "sharpest")
        # Indexed again, both are new pixels: measured again.
        index(store, folder, calibrated)
        (group,) = dup.find_duplicates(store, folder, info, "similar").groups
    assert (group.keeper.path, group.reason) == (str(blurred), "sharpest")


def test_facts_are_read_whole_when_more_photos_came_than_were_counted(
    tmp_path: Path, calibrated: Registry
) -> None:
    """The arrays grow when photos were indexed between the count and the read."""
    folder = tmp_path / "photos"
    for seed in range(5):
        make_photo(folder / f"p{seed}.jpg", seed, SIZE)
    info = calibrated.info("pixels-8x8")
    with Store(tmp_path / "db.sqlite3") as store:
        index(store, folder, calibrated)
        rows = store.duplicate_facts_under(folder, info.id)
        photos, sigs, lats, missing = dup._facts_as_arrays(store, str(folder), info, 1)
    assert [p.path for p in photos] == [r[1] for r in rows] and missing == []
    assert sigs.tobytes() == b"".join(r[8] for r in rows)
    assert lats is not None and lats.tobytes() == b"".join(r[9] for r in rows)


def test_a_photo_looked_at_before_its_latent_came_is_looked_at_again(
    tmp_path: Path, calibrated: Registry
) -> None:
    """A grouping that runs while a folder is re-encoded (a new model version) compares a
    photo that has no latent yet by its signature only, which finds no crop. When its latent
    is written, the photo is looked at again, and the crop is found."""
    folder = tmp_path / "photos"
    fam = make_family_among_others(folder, 5, range(40, 44))
    info = calibrated.info("pixels-8x8")
    pair = ("f5_crop.jpg", "f5_original.jpg")
    with Store(tmp_path / "db.sqlite3") as store:
        index(store, folder, calibrated)
        assert pair in links(store)
        (crop_id,) = store._conn.execute(
            "SELECT id FROM photos WHERE path = ?", (str(fam["cropped"]).encode(),)
        ).fetchone()
        vector = store._conn.execute(
            "SELECT vector FROM latents WHERE photo_id = ?", (crop_id,)
        ).fetchone()[0]
        with store.transaction() as conn:  # the crop as if just indexed, its latent not yet
            conn.execute("DELETE FROM latents WHERE photo_id = ?", (crop_id,))
            conn.execute("DELETE FROM duplicate_links WHERE a = ? OR b = ?", (crop_id, crop_id))
            conn.execute("DELETE FROM duplicate_checked WHERE photo_id = ?", (crop_id,))
        dup.link_duplicates(store, folder, info)
        assert pair not in links(store)  # without a latent, no crop search
        with store.transaction() as conn:
            store.put_latent(conn, crop_id, info.id, np.frombuffer(vector, np.float32))
        dup.link_duplicates(store, folder, info)
        assert pair in links(store)


def _stored_photos(store: Store, count: int) -> list[int]:
    with store.transaction() as conn:
        return [
            store.upsert_photo(conn, f"/photos/p{i}.jpg", 1000 + i, 10**9 + i, bytes([i]) * 8)
            for i in range(count)
        ]


def test_links_of_photos_changed_while_they_were_compared_are_not_recorded(
    tmp_path: Path,
) -> None:
    """Linking reads the folder, compares for a while, then writes: meanwhile the indexer may
    have re-indexed an edited photo, the trash removed one, or a latent arrived. Those photos'
    links and marks are left out (they are looked at again next time), and a removed photo
    is no error."""
    with Store(tmp_path / "db.sqlite3") as store:
        a, b, c, d, e = _stored_photos(store, 5)
        as_read = {
            p[0]: (p[4], p[2], p[3], False)
            for p in store.duplicate_facts_under("/photos", "m", blobs=False)
        }
        with store.transaction() as conn:
            store.upsert_photo(conn, "/photos/p1.jpg", 5000, 2 * 10**9, b"edited!!")  # b
            store.put_latent(conn, d, "m", np.ones(4, np.float32))  # d: its latent came
        store.remove_paths(["/photos/p2.jpg"])  # c: moved to the trash
        store.put_duplicate_links(
            "m|1|x|1",
            "m",
            [(a, b, 1.1), (a, c, 1.2), (a, d, 1.3), (a, e, 1.4)],
            [a, b, c, d, e],
            "/photos",
            as_read,
        )
        assert store.duplicate_links("m|1|x|1") == [(a, e, 1.4)]
        assert store.duplicate_checked_under("/photos", "m|1|x|1") == {a, e}


def test_the_links_read_for_a_folder_are_those_between_its_photos(tmp_path: Path) -> None:
    """A small subfolder of a large store reads its own photos' links; a large one reads all
    and keeps its own: the same answer either way."""
    with Store(tmp_path / "db.sqlite3") as store:
        ids = _stored_photos(store, 10)
        pairs = [(ids[0], ids[1], 1.1), (ids[1], ids[2], 3.2), (ids[2], ids[9], 1.5)]
        store.put_duplicate_links("m|1|x|1", "m", pairs, ids, "/photos")
        assert sorted(store.duplicate_links("m|1|x|1", among={ids[0], ids[1]})) == [pairs[0]]
        assert sorted(store.duplicate_links("m|1|x|1", 3.0, among=set(ids[:2]))) == [pairs[0]]
        assert sorted(store.duplicate_links("m|1|x|1", among=set(ids[:3]))) == pairs[:2]
        assert sorted(store.duplicate_links("m|1|x|1", 3.0, among=set(ids[:3]))) == pairs[:1]
        assert sorted(store.duplicate_links("m|1|x|1", among=set(ids))) == pairs


def test_details_made_when_asked_for_are_those_kept_for_the_whole_folder() -> None:
    """A batch's checks make the detail images of the rows they compare; they must be the
    images that comparing the whole folder keeps for every row."""
    rng = np.random.default_rng(3)
    signatures = rng.integers(0, 256, (40, 32, 32)).astype(np.uint8)
    reps = np.arange(0, 40, 2)
    pix = dup._Rows(signatures, reps)
    kept = dup._normalised(dup.sig.details(pix[np.arange(len(reps))])).astype(np.float16)
    rows = np.array([3, 0, 17, 3])
    np.testing.assert_array_equal(dup._Details(pix)[rows], kept[rows])
