"""A counted, picklable stand-in for the UMAP fit, shared by the map tests.

The map's caching, placement and view logic are tested against it in milliseconds; the real
umap-learn fit, cache and transform are covered by `test_real_umap_fit_cache_and_transform`.
"""

from __future__ import annotations

import numpy as np
import pytest

from photosort.core import projection


class FakeReducer:
    """What compute_map needs of a fitted UMAP: `embedding_` and `transform`."""

    transforms = 0

    def __init__(self, start: np.ndarray) -> None:
        self.embedding_ = np.asarray(start, np.float32) * 2.0
        self.centre = self.embedding_.mean(axis=0)

    def transform(self, x: np.ndarray) -> np.ndarray:
        FakeReducer.transforms += 1
        return np.tile(self.centre, (len(x), 1)).astype(np.float32)


def install(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Replace the UMAP fit; returns the list of fitted sizes (one entry per fit)."""
    calls: list[int] = []

    def fake_fit(x, init, epochs, cancel):
        calls.append(len(x))
        return FakeReducer(init)

    monkeypatch.setattr(projection, "_fit_umap", fake_fit)
    monkeypatch.setattr(projection, "_import_umap", lambda: None)
    allowed = projection._ModelUnpickler.ALLOWED | {(FakeReducer.__module__, "FakeReducer")}
    monkeypatch.setattr(projection._ModelUnpickler, "ALLOWED", allowed)
    FakeReducer.transforms = 0
    return calls
