import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from photosort.core import indexer as indexer_module
from photosort.core.indexer import Indexer
from photosort.core.jobs import CancelToken
from photosort.core.store import Store
from tests.conftest import make_photo


@pytest.fixture
def decode_counter(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts real decodes: the real decoder still runs, we only record each call."""
    calls: list[str] = []
    real = indexer_module.decode_bytes_for_index

    def counting(data, size, resize, digest=None):
        calls.append(resize)
        return real(data, size, resize, digest)

    monkeypatch.setattr(indexer_module, "decode_bytes_for_index", counting)
    return calls


def vectors(store: Store, folder: Path) -> dict[str, np.ndarray]:
    paths, matrix = store.latents_under(folder, "pixels-8x8")
    return {os.path.relpath(p, folder): matrix[i].copy() for i, p in enumerate(paths)}


def test_first_index_then_rescan_decodes_nothing(
    photo_folder: Path, db_path: Path, pixels_encoder, decode_counter: list[str]
) -> None:
    progress = []
    with Store(db_path) as store:
        report = Indexer(store, pixels_encoder, batch_size=5).index_folder(
            photo_folder, progress=progress.append
        )
        assert (report.total, report.indexed, report.unchanged) == (12, 12, 0)
        assert len(decode_counter) == 12
        assert progress[-1].done == progress[-1].total == 12
        assert [p.done for p in progress] == sorted(p.done for p in progress)

        decode_counter.clear()
        again = Indexer(store, pixels_encoder).index_folder(photo_folder)
        assert (again.indexed, again.unchanged, again.decoded) == (0, 12, 0)
        assert decode_counter == []
        assert len(vectors(store, photo_folder)) == 12


def test_renamed_and_moved_files_keep_their_latent_without_decoding(
    photo_folder: Path, db_path: Path, pixels_encoder, decode_counter: list[str]
) -> None:
    with Store(db_path) as store:
        Indexer(store, pixels_encoder).index_folder(photo_folder)
        before = vectors(store, photo_folder)
        old_id = store.photo_by_path(str(photo_folder / "p01.jpg")).id
        os.rename(photo_folder / "p01.jpg", photo_folder / "renamed.jpg")
        os.makedirs(photo_folder / "elsewhere")
        os.rename(photo_folder / "sub" / "p09.jpg", photo_folder / "elsewhere" / "p09.jpg")
        decode_counter.clear()
        report = Indexer(store, pixels_encoder).index_folder(photo_folder)
        assert decode_counter == []
        assert (report.reused, report.indexed, report.removed) == (2, 0, 0)
        after = vectors(store, photo_folder)
        np.testing.assert_array_equal(after["renamed.jpg"], before["p01.jpg"])
        np.testing.assert_array_equal(after["elsewhere/p09.jpg"], before["sub/p09.jpg"])
        assert "p01.jpg" not in after and len(after) == 12
        assert store.photo_by_path(str(photo_folder / "renamed.jpg")).id == old_id


def test_copied_file_reuses_latent_and_modified_file_is_reencoded(
    photo_folder: Path, db_path: Path, pixels_encoder, decode_counter: list[str]
) -> None:
    with Store(db_path) as store:
        Indexer(store, pixels_encoder).index_folder(photo_folder)
        before = vectors(store, photo_folder)
        shutil.copy(photo_folder / "p02.jpg", photo_folder / "copy.jpg")
        make_photo(photo_folder / "p03.jpg", seed=99, quality=90)  # new content, same name
        decode_counter.clear()
        report = Indexer(store, pixels_encoder).index_folder(photo_folder)
        assert len(decode_counter) == 1  # only the modified file
        assert (report.indexed, report.reused, report.unchanged) == (1, 1, 11)
        after = vectors(store, photo_folder)
        np.testing.assert_array_equal(after["copy.jpg"], before["p02.jpg"])
        assert not np.allclose(after["p03.jpg"], before["p03.jpg"])


def test_deleted_files_leave_the_results(photo_folder: Path, db_path: Path, pixels_encoder):
    with Store(db_path) as store:
        Indexer(store, pixels_encoder).index_folder(photo_folder)
        os.remove(photo_folder / "p04.jpg")
        shutil.rmtree(photo_folder / "sub")
        report = Indexer(store, pixels_encoder).index_folder(photo_folder)
        assert report.removed == 5
        assert sorted(vectors(store, photo_folder)) == [f"p{i:02d}.jpg" for i in range(8) if i != 4]


def test_broken_files_are_skipped_with_reasons_and_not_retried(
    photo_folder: Path, db_path: Path, pixels_encoder, decode_counter: list[str]
) -> None:
    (photo_folder / "empty.jpg").write_bytes(b"")
    (photo_folder / "noise.jpg").write_bytes(os.urandom(2000))
    with Store(db_path) as store:
        report = Indexer(store, pixels_encoder).index_folder(photo_folder)
        reasons = dict((os.path.basename(p), r) for p, r in report.skipped)
        assert reasons == {"empty.jpg": "empty file (0 bytes)", "noise.jpg": reasons["noise.jpg"]}
        assert "not a recognised image" in reasons["noise.jpg"]
        assert report.indexed == 12
        failures = store.failures_under(photo_folder)
        assert sorted(os.path.basename(p) for p in failures) == ["empty.jpg", "noise.jpg"]
        decode_counter.clear()
        again = Indexer(store, pixels_encoder).index_folder(photo_folder)
        assert len(again.skipped) == 2 and decode_counter == []
        # Fixing the file makes it indexable again.
        make_photo(photo_folder / "noise.jpg", 5)
        fixed = Indexer(store, pixels_encoder).index_folder(photo_folder)
        assert fixed.indexed == 1 and len(fixed.skipped) == 1


def test_cancel_stops_and_a_rerun_completes(photo_folder: Path, db_path: Path, pixels_encoder):
    token = CancelToken()

    def progress(p):
        if p.done >= 4:
            token.cancel()

    with Store(db_path) as store:
        first = Indexer(store, pixels_encoder, batch_size=4).index_folder(
            photo_folder, progress=progress, cancel=token
        )
        assert first.cancelled and 0 < first.indexed < 12
        second = Indexer(store, pixels_encoder).index_folder(photo_folder)
        assert second.indexed == 12 - first.indexed and second.unchanged == first.indexed
        assert len(vectors(store, photo_folder)) == 12


def test_priority_files_are_encoded_first(photo_folder: Path, db_path: Path, pixels_encoder):
    order: list[str] = []
    target = str(photo_folder / "sub" / "p11.jpg")
    with Store(db_path) as store:
        Indexer(store, pixels_encoder, batch_size=1).index_folder(
            photo_folder, progress=lambda p: order.append(p.current), first=[target]
        )
    assert order[1] == target  # order[0] is the initial 0/total report


def test_not_a_folder(db_path: Path, pixels_encoder, tmp_path: Path) -> None:
    from photosort.core.errors import PhotoSortError

    with Store(db_path) as store, pytest.raises(PhotoSortError, match="not a folder"):
        Indexer(store, pixels_encoder).index_folder(tmp_path / "missing")


def test_a_folder_that_looks_empty_keeps_its_photos(
    photo_folder: Path, db_path: Path, pixels_encoder
) -> None:
    with Store(db_path) as store:
        Indexer(store, pixels_encoder).index_folder(photo_folder)
        hidden = photo_folder.parent / "unplugged"
        os.rename(photo_folder, hidden)
        photo_folder.mkdir()  # the mount point of a disk that is not there
        report = Indexer(store, pixels_encoder).index_folder(photo_folder)
        assert (report.removed, report.kept_empty) == (0, 12)
        assert "looks empty" in report.summary()
        assert len(store.photos_under(photo_folder)) == 12
        os.rmdir(photo_folder)
        os.rename(hidden, photo_folder)
        again = Indexer(store, pixels_encoder).index_folder(photo_folder)
        assert (again.unchanged, again.decoded) == (12, 0)


def test_a_replaced_model_version_is_re_encoded_not_mixed(
    photo_folder: Path, db_path: Path, pixels_encoder, decode_counter: list[str]
) -> None:
    import dataclasses

    from photosort.core.encoders import Encoder

    with Store(db_path) as store:
        first = Indexer(store, pixels_encoder).index_folder(photo_folder)
        assert first.indexed == first.total > 0
        decode_counter.clear()
        # The same model id, a new version (a retrained model shipped under the old name).
        newer = Encoder(dataclasses.replace(pixels_encoder.info, version="99.0.0"))
        again = Indexer(store, newer).index_folder(photo_folder)
        assert again.indexed == first.total and again.unchanged == 0
        assert len(decode_counter) == first.total
        assert len(vectors(store, photo_folder)) == first.total
