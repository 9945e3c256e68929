"""Long names shorten to different texts (issue 15, item 9)."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QFont, QFontMetrics

from photosort.ui.names import distinct_spans, elide_keeping

NAMES = [
    "Pictures from the holiday 2015-04-10 at 20.12.23 - reference.jpg",
    "Pictures from the holiday 2015-04-10 at 20.12.24 - reference.jpg",
    "Pictures from the holiday 2015-04-11 at 08.00.00 - reference.jpg",
    "Pictures from the holiday 2015-04-10 at 20.12.23 - reference (2).jpg",
    "IMG_20150410_201223.jpg",
    "IMG_20150410_201224.jpg",
    "a.jpg",
]


def test_distinct_spans_point_at_the_differences() -> None:
    spans = distinct_spans(NAMES)
    # Its neighbours in sorted order: "...20.12.23 - reference.jpg" and "...04-11 at 08.00.00".
    assert [NAMES[1][s:e] for s, e in spans[1]] == ["10", "20", "12", "24"]
    assert [NAMES[3][s:e] for s, e in spans[3]] == [" - reference (2)"]
    assert [NAMES[4][s:e] for s, e in spans[4]] == ["201223"]
    assert spans[-1] == ()  # "a.jpg" is like none of the others


@pytest.mark.parametrize("chars", [12, 15, 20, 30])
def test_no_two_names_shorten_to_the_same_text(chars: int) -> None:
    spans = distinct_spans(NAMES)
    short = [
        elide_keeping(n, s, lambda t: len(t) <= chars) for n, s in zip(NAMES, spans, strict=True)
    ]
    assert len(set(short)) == len(NAMES), short
    assert all(len(t) <= chars for t in short)
    assert short[-1] == "a.jpg"
    assert all(t.endswith(".jpg") for t in short)


def test_with_the_tiles_real_font(qapp) -> None:
    metrics = QFontMetrics(QFont())
    width = metrics.horizontalAdvance("Pictur…ce.jpg")  # the width the issue saw
    spans = distinct_spans(NAMES)
    short = [
        elide_keeping(n, s, lambda t: metrics.horizontalAdvance(t) <= width)
        for n, s in zip(NAMES, spans, strict=True)
    ]
    assert len(set(short)) == len(NAMES), short


def test_names_alike_but_for_two_numbers() -> None:
    """Sorted neighbours differ only in the seconds; a day apart, names still must differ."""
    names = [f"Pictures from the holiday 2015-04-1{d} at 20.12.2{s} - reference.jpg"
             for d in (0, 1) for s in range(3, 7)]  # fmt: skip
    spans = distinct_spans(names)
    for chars in (12, 15, 22, 40):
        short = [elide_keeping(n, s, lambda t, c=chars: len(t) <= c) for n, s in zip(names, spans, strict=True)]  # fmt: skip
        assert len(set(short)) == len(names), short
