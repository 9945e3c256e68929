"""The checks the duplicate finder runs on many pairs at once agree with the one-pair checks."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from photosort.core import duplicates as dup
from photosort.core import signature as sig

SIZE = (320, 240)


def _picture(seed: int) -> Image.Image:
    """A photo-like picture: smooth random shapes at several scales, in colour."""
    rng = np.random.default_rng(seed)
    layers = []
    for cells in (4, 9, 22):
        small = Image.fromarray(rng.integers(0, 256, (cells, cells, 3)).astype(np.uint8), "RGB")
        layers.append(np.asarray(small.resize(SIZE, Image.Resampling.BICUBIC), np.float32))
    img = Image.fromarray(np.clip(sum(layers) / 3, 0, 255).astype(np.uint8), "RGB")
    return img.filter(ImageFilter.GaussianBlur(1))


def _signature(img: Image.Image) -> np.ndarray:
    return sig.as_array([sig.pixel_signature(img)])[0]


def _framed(img: Image.Image) -> Image.Image:
    """The picture pasted into a flat screenshot-like frame with a title bar."""
    w, h = img.size
    frame = Image.new("RGB", (w + 40, h + 70), (236, 236, 236))
    frame.paste(img, (20, 50))
    return frame


def test_a_crop_is_estimated_close_and_another_picture_far() -> None:
    original = _picture(1)
    w, h = original.size
    crop = original.crop((int(w * 0.1), int(h * 0.05), int(w * 0.95), int(h * 0.85)))
    other = _picture(2)
    big = np.stack([_signature(original)] * 2)
    small = np.stack([_signature(crop), _signature(other)])
    ratio = np.float32(
        [(w / h) / (crop.width / crop.height), (w / h) / (other.width / other.height)]
    )
    est = sig.contained_estimates(sig.details(big), sig.details(small), ratio)
    full = [
        sig.contained_agreement(b, s, float(r)) for b, s, r in zip(big, small, ratio, strict=True)
    ]
    assert est[0] >= dup.CROP_LOOK and full[0] >= dup.CONTAINED_PICTURE
    assert est[1] < dup.CROP_LOOK and full[1] < dup.CONTAINED_PICTURE


def test_a_framed_copy_is_estimated_from_the_frame_as_found() -> None:
    pictures = [_picture(3), _picture(4)]
    framed = np.stack([_signature(_framed(p)) for p in pictures])
    plain = np.stack([_signature(p) for p in pictures])
    est = sig.framed_estimates(framed, plain)
    full = [sig.framed_agreement(b, s) for b, s in zip(framed, plain, strict=True)]
    assert (est >= dup.FRAMED_LOOK).all()
    assert (est <= np.array(full) + 1e-5).all()  # the search around the frame only adds
    # Framed against the other picture: far; no frame at all: -1, as framed_agreement says.
    assert (sig.framed_estimates(framed, plain[::-1]) < dup.FRAMED_LOOK).all()
    assert (sig.framed_estimates(plain, plain) == -1).all()


def test_frames_and_insides_of_many_signatures_are_those_of_each() -> None:
    sigs = np.stack(
        [_signature(_framed(_picture(5))), _signature(_picture(6)), np.full((32, 32), 128.0)]
    )
    frames = sig.frames_of(sigs)
    insides, ok = sig.unframed_many(sigs)
    for s, frame, inside, has in zip(sigs, frames, insides, ok, strict=True):
        one = sig.frame_of(s)
        assert (one is None and frame[0] == -1 and not has) or tuple(frame) == one
        if has:
            np.testing.assert_allclose(inside, sig.unframed(s), atol=1e-4)
    assert ok.tolist() == [True, False, False]
    assert dup.looks_framed_many(sigs).tolist() == [dup.looks_framed(s) for s in sigs]


def test_dates_of_many_pairs_are_compared_like_one_pair() -> None:
    dates = [
        None,
        "2015:04:10 20:12:23",
        "2015:04:10 20:12:23.550",
        "2015:04:10 20:12:23.016",
        "2015:04:10 20:12:24",
    ]
    photos = [dup.Photo(i, f"/p/{i}.jpg", 1, 1, None, 1, 1, d) for i, d in enumerate(dates)]
    codes = dup._moments(photos)
    a, b = np.meshgrid(np.arange(len(dates)), np.arange(len(dates)))
    a, b = a.ravel(), b.ravel()
    expected = [dup._same_moment(dates[i], dates[j]) for i, j in zip(a, b, strict=True)]
    assert dup._same_moments(codes[a], codes[b]).tolist() == expected


def test_neighbour_search_keeps_the_nearest_within_the_distance() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(300, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    k, reach = 3, 0.5
    found = dup.neighbour_pairs(x, x, k, reach)
    dist = 1.0 - x @ x.T
    expected = set()
    for i in range(len(x)):
        nearest = np.argsort(dist[i], kind="stable")[:k]
        expected |= {(i, int(j)) for j in nearest if dist[i, j] <= reach}
    assert {tuple(map(int, p)) for p in found} == expected


def _searched_one_window_at_a_time(big: np.ndarray, small: np.ndarray, ratio: float) -> float:
    """The containment search written plainly: every coarse window sampled, softened and
    compared on its own, then the 27 windows around the best one."""
    inner = np.s_[sig.EDGE : sig.SIDE - sig.EDGE, sig.EDGE : sig.SIDE - sig.EDGE]
    target = sig._framed_details(small)[inner][None]

    def score(window: np.ndarray) -> float:
        sample = sig._sample(big, window[None])[0]
        return float(sig.agreement(sig._framed_details(sample)[inner][None], target, keep=1.0)[0])

    coarse = sig._windows(ratio)
    scores = [score(w) for w in coarse]
    x0, y0, sx, _ = coarse[int(np.argmax(scores))]
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            for ds in (-0.02, 0.0, 0.02):
                w = np.float32([x0 + dx / sig.SIDE, y0 + dy / sig.SIDE, sx + ds, (sx + ds) * ratio])
                fits = (w[2:] >= sig.MIN_COVER).all() and (w[2:] <= 1).all() and (w[:2] >= 0).all()
                if fits and w[0] + w[2] <= 1.0001 and w[1] + w[3] <= 1.0001:
                    scores.append(score(w))
    return max(scores)


def test_the_batched_containment_search_finds_what_one_window_at_a_time_finds() -> None:
    """contained_agreements reorders the search into a few large matrix products (window maps
    shared by pairs, row maps by windows); the scores must be those of the plain search."""
    rng = np.random.default_rng(7)
    bigs, smalls, ratios = [], [], []
    for seed in range(8):
        original = _picture(10 + seed)
        w, h = original.size
        left, top = rng.uniform(0, 0.12, 2)
        right, bottom = 1 - rng.uniform(0, 0.12, 2)
        crop = original.crop((int(w * left), int(h * top), int(w * right), int(h * bottom)))
        other = crop if seed % 3 else _picture(30 + seed)  # every third pair is not a crop
        bigs.append(_signature(original))
        smalls.append(_signature(other))
        ratios.append((w / h) / (other.width / other.height))
    big, small, ratio = np.stack(bigs), np.stack(smalls), np.float32(ratios)
    plain = [
        _searched_one_window_at_a_time(b, s, float(r))
        for b, s, r in zip(big, small, ratio, strict=True)
    ]
    batched = sig.contained_agreements(big, small, ratio)
    np.testing.assert_allclose(batched, plain, atol=1e-4)
    is_crop = np.arange(8) % 3 != 0
    assert (batched[is_crop] >= dup.CONTAINED_PICTURE).all()
    assert (batched[~is_crop] < dup.CONTAINED_PICTURE).all()
    # Giving up below a score skips the refinement only: never more than the full search.
    early = sig.contained_agreements(big, small, ratio, give_up_below=0.99)
    assert (early <= batched + 1e-6).all()
