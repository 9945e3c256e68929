"""Retrieval metrics of `photosort eval` on hand-checked vectors and tiny labelled folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from photosort.core.evaluation import (
    BASELINE_HISTOGRAM,
    BASELINE_PIXELS,
    choose_queries,
    evaluate_folder,
    format_table,
    hsv_histogram,
    retrieval_metrics,
    scan_labelled,
)


def test_separable_vectors_give_perfect_scores() -> None:
    labels = np.array([0] * 12 + [1] * 12)
    vecs = np.where(labels[:, None] == 0, [[1.0, 0.0]], [[0.0, 1.0]])
    vecs = vecs + np.random.default_rng(1).normal(0, 0.01, vecs.shape)
    queries = choose_queries(labels, per_class=3, seed=0)
    for metric in ("cosine", "euclidean"):
        m, p = retrieval_metrics(vecs, labels, queries, metric)
        assert m == pytest.approx(1.0)
        assert p == pytest.approx(1.0)


def test_average_precision_matches_hand_computation() -> None:
    # Query 0 (class 0) on a line: distances order the others 1 (hit), 2 (miss), 3 (hit), 4 (miss).
    vecs = np.array([[0.0], [1.0], [2.0], [3.0], [4.0]])
    labels = np.array([0, 0, 1, 0, 1])
    m, p = retrieval_metrics(vecs, labels, np.array([0]), "euclidean", k=4)
    assert m == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert p == pytest.approx(2 / 4)


def test_query_is_left_out_of_its_own_ranking() -> None:
    # Two photos of class 0 far apart, the query's nearest is of class 1: AP = 1/2.
    vecs = np.array([[0.0], [0.1], [5.0]])
    labels = np.array([0, 1, 0])
    m, _ = retrieval_metrics(vecs, labels, np.array([0]), "euclidean")
    assert m == pytest.approx(0.5)


def test_queries_are_fixed_and_per_class() -> None:
    labels = np.repeat(np.arange(4), [30, 12, 5, 20])
    q1, q2 = choose_queries(labels, 10, seed=0), choose_queries(labels, 10, seed=0)
    assert np.array_equal(q1, q2)
    counts = np.bincount(labels[q1], minlength=4)
    assert counts.tolist() == [10, 10, 5, 10]
    assert not np.array_equal(q1, choose_queries(labels, 10, seed=1))


def test_hsv_histogram_sums_to_one_and_separates_colours() -> None:
    red = np.zeros((16, 16, 3), np.uint8)
    red[..., 0] = 220
    blue = np.zeros((16, 16, 3), np.uint8)
    blue[..., 2] = 220
    hr, hb = hsv_histogram(red), hsv_histogram(blue)
    assert hr.shape == (128,)
    assert hr.sum() == pytest.approx(1.0)
    assert np.argmax(hr) != np.argmax(hb)


class _EmptyRegistry:
    def models(self, include_references: bool = False) -> list:
        return []


def test_baselines_on_a_separable_folder(photo_folder: Path) -> None:
    data = scan_labelled(photo_folder)
    assert data.classes == ["blue", "green", "red"]
    assert len(data.paths) == 24
    rows = evaluate_folder(photo_folder, registry=_EmptyRegistry(), per_class=4)
    by_id = {r.model_id: r for r in rows}
    assert set(by_id) == {BASELINE_PIXELS, BASELINE_HISTOGRAM}
    for r in rows:
        assert r.queries == 12 and r.photos == 24
        assert r.map == pytest.approx(1.0)
        assert r.p_at_10 == pytest.approx(7 / 10)  # only 7 other photos share the class
    table = format_table(rows)
    assert "baseline:pixels-8x8" in table and "1.000" in table
    json.dumps([r.to_json() for r in rows])


def test_folder_without_classes_is_refused(tmp_path: Path) -> None:
    (tmp_path / "only").mkdir()
    with pytest.raises(ValueError):
        scan_labelled(tmp_path)


def test_ranking_is_the_apps_own_order() -> None:
    # retrieval_metrics ranks through LatentIndex.rank_like, the order `photosort sort` prints:
    # the query leads its own ranking and is left out, ties break by row (path) order.
    from photosort.core.similarity import LatentIndex

    vecs = np.array([[1.0, 0.0], [1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    labels = np.array([0, 1, 0, 1])
    order = LatentIndex(["0", "1", "2", "3"], vecs, "cosine").rank_like(["0"]).order
    assert order.tolist() == [0, 1, 2, 3]
    m, _ = retrieval_metrics(vecs, labels, np.array([0]), "cosine")
    assert m == pytest.approx(1 / 2)  # 1 (miss, tied but later row) then 2 (hit at rank 2)


def test_suite_gives_one_table_per_folder_and_a_summary(tmp_path: Path) -> None:
    from photosort.core.evaluation import evaluate_suite, format_summary, summary_rows
    from tests.training.conftest import make_folder

    a = make_folder(tmp_path / "a" / "colours", per_class=5)
    b = make_folder(tmp_path / "b" / "colours", per_class=4)
    seen: list[str] = []
    tables = evaluate_suite(
        [a, b],
        registry=_EmptyRegistry(),
        per_class=2,
        progress=lambda what, done, total: seen.append(what),
    )
    assert list(tables) == ["colours", "colours (2)"]  # same names made unique, in order
    assert {r.photos for r in tables["colours"]} == {15}
    assert {r.photos for r in tables["colours (2)"]} == {12}
    assert any(w.startswith("colours (2): ") for w in seen)
    summary = summary_rows(tables)
    assert {e["model"] for e in summary} == {BASELINE_PIXELS, BASELINE_HISTOGRAM}
    for e in summary:
        assert set(e["map"]) == {"colours", "colours (2)"}
        assert e["mean"] == pytest.approx(np.mean(list(e["map"].values())))
    text = format_summary(tables)
    head = text.splitlines()[0].split()
    assert head[0] == "model" and head[-1] == "mean"
    assert "colours" in head
