"""Arrange by similarity: a permutation whose neighbours look alike."""

from __future__ import annotations

import numpy as np
import pytest

from photosort.core.arrange import arrange, grid_neighbour_distance, step_distances


def clustered(n: int, dim: int = 24, clusters: int = 6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)) * 4
    return (centres[rng.integers(0, clusters, n)] + rng.normal(size=(n, dim))).astype(np.float32)


def is_permutation(order: np.ndarray, n: int) -> bool:
    return order.dtype == np.int64 and sorted(order.tolist()) == list(range(n))


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 17])
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_every_photo_exactly_once(n: int, metric: str) -> None:
    order = arrange(clustered(n) if n else np.zeros((0, 24), np.float32), metric)
    assert is_permutation(order, n)


def test_identical_and_zero_vectors() -> None:
    assert is_permutation(arrange(np.ones((30, 5)), "euclidean"), 30)
    assert is_permutation(arrange(np.zeros((30, 5)), "cosine"), 30)


def test_start_is_kept_first() -> None:
    x = clustered(200)
    for start in (0, 57, 199):
        order = arrange(x, "euclidean", start=start)
        assert order[0] == start and is_permutation(order, 200)
    assert arrange(x[:2], "cosine", start=1).tolist() == [1, 0]
    with pytest.raises(IndexError):
        arrange(x, "cosine", start=200)


def test_unknown_metric() -> None:
    with pytest.raises(ValueError):
        arrange(clustered(5), "manhattan")


def test_neighbours_are_closer_than_in_name_or_random_order() -> None:
    x = clustered(600)  # rows in random cluster order: "name order" is unsorted
    order = arrange(x, "euclidean", time_budget=1.0)
    rng = np.random.default_rng(3)
    for columns in (1_000_000, 8):  # the sequence itself, and a grid 8 wide
        arranged = grid_neighbour_distance(x, "euclidean", order, columns)
        by_name = grid_neighbour_distance(x, "euclidean", np.arange(600), columns)
        shuffled = grid_neighbour_distance(x, "euclidean", rng.permutation(600), columns)
        assert arranged < 0.75 * by_name and arranged < 0.75 * shuffled
    # along the sequence, almost every step stays within a cluster
    steps = step_distances(x, "euclidean", order)
    assert steps[0] == 0 and np.median(steps[1:]) < 0.5 * by_name


def test_two_opt_improves_on_the_greedy_path() -> None:
    x = clustered(400, dim=8, clusters=3)
    quick = arrange(x, "cosine", time_budget=0.0)  # greedy path only
    better = arrange(x, "cosine", time_budget=1.0)
    seq = 1_000_000
    assert grid_neighbour_distance(x, "cosine", better, seq) <= grid_neighbour_distance(
        x, "cosine", quick, seq
    )


def test_a_few_thousand_photos() -> None:
    # How long it takes is benchmarks/bench_arrange.py's business, not a unit test's.
    x = clustered(3000, dim=32)
    order = arrange(x, "cosine", time_budget=0.5)
    assert is_permutation(order, 3000)


def test_grid_distance_helpers() -> None:
    x = np.array([[0.0], [1.0], [3.0], [6.0]], np.float32)
    # sequence: steps 1, 2, 3
    assert grid_neighbour_distance(x, "euclidean", np.arange(4), 10) == pytest.approx(2.0)
    # 2 columns: right pairs (0,1) (3,6) -> 1, 3; down pairs (0,3) (1,6) -> 3, 5
    assert grid_neighbour_distance(x, "euclidean", np.arange(4), 2) == pytest.approx(3.0)
    assert step_distances(x, "euclidean", np.array([2, 0, 3, 1])).tolist() == [0, 3, 6, 5]
    assert grid_neighbour_distance(x[:1], "euclidean", np.arange(1), 4) == 0.0
