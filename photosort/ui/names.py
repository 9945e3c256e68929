"""Short forms of long file names that stay distinguishable (no Qt).

A grid tile has room for ~15 characters. Eliding every name in the middle makes
"Picture 2015-04-10 reference.jpg" and "Picture 2015-04-11 reference.jpg" both read
"Pictur…ce.jpg". Instead, each name keeps the parts where it differs from the names next to it
in sorted order (the names most like it): `distinct_spans` finds them for a whole folder at
once (on a worker thread, with the scan), comparing names as runs of digits and of other
characters, and `elide_keeping` shortens a name to those parts, its extension and as much of
its beginning as fits, with "…" for what is left out.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Sequence

ELLIPSIS = "…"
_TOKEN = re.compile(r"\d+|\D+")

Span = tuple[int, int]  # [start, end) character offsets in the name


_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple:
    """Sort key that reads numbers as numbers: img2 before img10, case ignored.

    re.split with a group alternates text and digits (text first, maybe empty), so keys of two
    names always compare text with text and number with number; "01" sorts after "1".
    """
    parts = _DIGITS.split(name.casefold())
    return tuple((int(p), len(p)) if i % 2 else p for i, p in enumerate(parts))


def _tokens(stem: str) -> list[tuple[int, int]]:
    return [m.span() for m in _TOKEN.finditer(stem)]


def _differences(a: str, b: str) -> tuple[list[Span], list[Span]]:
    """The character spans of `a` and of `b` (stems) in which they differ, token by token."""
    ta, tb = _tokens(a), _tokens(b)
    wa, wb = [a[s:e] for s, e in ta], [b[s:e] for s, e in tb]
    if len(ta) == len(tb):  # the usual case (IMG_0001 / IMG_0002): position by position
        pairs = [(i, i + 1, i, i + 1) for i in range(len(ta)) if wa[i] != wb[i]]
        if 2 * len(pairs) > len(ta):
            return [], []  # not alike: telling them apart needs no help
    else:
        matcher = difflib.SequenceMatcher(None, wa, wb, autojunk=False)
        if matcher.ratio() < 0.5:
            return [], []
        ops = matcher.get_opcodes()
        pairs = [(i1, i2, j1, j2) for op, i1, i2, j1, j2 in ops if op != "equal"]
    spans_a, spans_b = [], []
    for i1, i2, j1, j2 in pairs:
        # An insertion on one side is marked on the other by the token before it.
        if i2 > i1 or i1 > 0:
            lo, hi = (i1, i2) if i2 > i1 else (i1 - 1, i1)
            spans_a.append((ta[lo][0], ta[hi - 1][1]))
        if j2 > j1 or j1 > 0:
            lo, hi = (j1, j2) if j2 > j1 else (j1 - 1, j1)
            spans_b.append((tb[lo][0], tb[hi - 1][1]))
    return spans_a, spans_b


def _numbered_groups(stems: Sequence[str]) -> dict[tuple[str, ...], list[int]]:
    """Names alike but for their numbers ("IMG_#", "holiday #-#-# at #.#.#"), grouped."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, stem in enumerate(stems):
        words = _TOKEN.findall(stem)
        if any(w.isdigit() for w in words):
            key = tuple("#" if w.isdigit() else w for w in words)
            groups.setdefault(key, []).append(i)
    return groups


def distinct_spans(names: Sequence[str]) -> list[tuple[Span, ...]]:
    """For each name, the parts that tell it from the names most like it: every number that
    varies among names alike but for their numbers, and where it differs from its neighbours
    in sorted order (a copy's " (2)", a changed word)."""
    stems = [os.path.splitext(n)[0] for n in names]
    order = sorted(range(len(names)), key=names.__getitem__)
    spans: list[list[Span]] = [[] for _ in names]
    for members in _numbered_groups(stems).values():
        if len(members) < 2:
            continue
        tokens = {i: _tokens(stems[i]) for i in members}
        first = tokens[members[0]]
        varying = [
            k
            for k in range(len(first))
            if len({stems[i][slice(*tokens[i][k])] for i in members}) > 1
        ]
        for i in members:
            spans[i] += [tokens[i][k] for k in varying]
    for a, b in zip(order, order[1:], strict=False):
        if stems[a] == stems[b]:
            continue  # only the extension differs, and it is always shown
        da, db = _differences(stems[a], stems[b])
        spans[a] += da
        spans[b] += db
    return [_merged(s) for s in spans]


def _merged(spans: list[Span]) -> tuple[Span, ...]:
    out: list[Span] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return tuple(out)


def _render(name: str, keep: list[bool]) -> str:
    parts, gap = [], False
    for ch, k in zip(name, keep, strict=True):
        if k:
            parts.append(ch)
            gap = False
        elif not gap:
            parts.append(ELLIPSIS)
            gap = True
    return "".join(parts)


def _shortest_fitting(
    name: str, stem_len: int, spans: list[Span], fits: Callable[[str], bool]
) -> list[bool] | None:
    """The differing parts alone are too long: the beginning of each, as long as fits; failing
    that, the later parts only (they tell a name from its closest neighbour)."""
    for first in range(len(spans)):
        kept = spans[first:]
        for length in range(max(e - s for s, e in kept), 0, -1):
            keep = [False] * stem_len + [True] * (len(name) - stem_len)
            for s, e in kept:
                # A number's last digits tell 0001 from 0002; a word's first letters, words.
                part = (
                    range(max(s, e - length), e)
                    if name[s:e].isdigit()
                    else range(s, min(e, s + length))
                )
                for i in part:
                    keep[i] = True
            if fits(_render(name, keep)):
                return keep
    return None


def elide_keeping(name: str, spans: Sequence[Span], fits: Callable[[str], bool]) -> str:
    """`name` shortened until `fits`, keeping `spans` (where it differs from similar names) and
    its extension; the full name when it fits already."""
    if fits(name):
        return name
    stem, _ext = os.path.splitext(name)
    keep = [False] * len(stem) + [True] * (len(name) - len(stem))
    for s, e in spans:
        for i in range(s, e):
            keep[i] = True
    if not spans:
        keep[0] = True
    if not fits(_render(name, keep)):
        keep = _shortest_fitting(name, len(stem), list(spans) or [(0, 1)], fits)
        if keep is None:
            keep = [True] + [False] * (len(name) - 1)
            n = 1
            while n < len(name) and fits(name[: n + 1] + ELLIPSIS):
                n += 1
            return name[:n] + ELLIPSIS
    # Room left: the beginning of the name, then the characters after each kept part.
    for i in range(len(stem)):
        if keep[i]:
            continue
        keep[i] = True
        if not fits(_render(name, keep)):
            keep[i] = False
            break
    grown = True
    while grown:
        grown = False
        for i in range(1, len(stem)):
            if keep[i - 1] and not keep[i]:
                keep[i] = True
                if fits(_render(name, keep)):
                    grown = True
                else:
                    keep[i] = False
    return _render(name, keep)
