import numpy as np
import pytest

from photosort.core.errors import PhotoSortError
from photosort.core.similarity import LatentIndex


def _index(metric: str, n: int = 200, d: int = 16, seed: int = 0) -> LatentIndex:
    rng = np.random.default_rng(seed)
    return LatentIndex([f"/p/{i:04d}.jpg" for i in range(n)], rng.normal(size=(n, d)), metric)


def test_cosine_ranking_matches_brute_force() -> None:
    index = _index("cosine")
    ranking = index.rank_like(["/p/0007.jpg"])
    v = index.vectors
    expected = np.array([1 - float(v[i] @ v[7]) for i in range(len(v))])
    np.testing.assert_allclose(ranking.distances, expected, atol=1e-5)
    assert ranking.order[0] == 7
    assert np.all(np.diff(ranking.ranked_distances()[1:]) >= 0)
    assert sorted(ranking.order.tolist()) == list(range(len(v)))


def test_euclidean_ranking_matches_brute_force() -> None:
    index = _index("euclidean")
    ranking = index.rank_like(["/p/0003.jpg"])
    expected = np.linalg.norm(index.vectors - index.vectors[3], axis=1)
    np.testing.assert_allclose(ranking.distances, expected, atol=1e-4)


def test_several_references_combine_their_similarity() -> None:
    index = _index("euclidean")
    refs = ["/p/0001.jpg", "/p/0002.jpg"]
    ranking = index.rank_like(refs)
    v = index.vectors
    combined = (np.linalg.norm(v - v[1], axis=1) + np.linalg.norm(v - v[2], axis=1)) / 2
    np.testing.assert_allclose(ranking.distances, combined, atol=1e-4)
    assert ranking.order[:2].tolist() == [1, 2]
    rest = ranking.order[2:]
    assert np.all(np.diff(combined[rest]) >= -1e-5)


def test_ties_break_by_path_order() -> None:
    vectors = np.ones((6, 4), np.float32)
    index = LatentIndex([f"/p/{c}.jpg" for c in "abcdef"], vectors, "cosine")
    assert index.rank_like(["/p/d.jpg"]).order.tolist() == [3, 0, 1, 2, 4, 5]


def test_unknown_reference() -> None:
    with pytest.raises(PhotoSortError, match="not indexed"):
        _index("cosine").rank_like(["/elsewhere.jpg"])


def test_query_expansion_brings_up_photos_like_the_references_neighbours() -> None:
    from photosort.core.expansion import QueryExpansion

    # The reference (r) is close to n1; x is a little closer to r than y is, but y is what
    # r's close neighbour n1 looks like: expansion must move y ahead of x.
    vectors = np.array(
        [
            [1.0, 0.0, 0.0],  # r
            [0.95, 0.0, 0.31],  # n1
            [0.80, 0.60, 0.0],  # x
            [0.78, 0.0, 0.62],  # y
        ]
    )
    paths = ["r", "n1", "x", "y"]
    plain = LatentIndex(paths, vectors, "cosine").rank_like(["r"]).order.tolist()
    assert plain == [0, 1, 2, 3]
    expanded = LatentIndex(paths, vectors, "cosine", QueryExpansion(k=1, alpha=3.0))
    ranking = expanded.rank_like(["r"])
    assert ranking.order.tolist() == [0, 1, 3, 2]  # the reference still leads
    # Off for k=0 and for Euclidean models (their distances are not similarities).
    assert LatentIndex(paths, vectors, "cosine", QueryExpansion(k=0)).expansion is None
    assert LatentIndex(paths, vectors, "euclidean", QueryExpansion()).expansion is None
