"""How long one repaint of the map takes with 50,000 points (was a timed assertion in
tests/ui/test_map_view.py; timings belong here, not in unit tests).

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_map_paint.py [--n 50000]

Prints the median of 9 repaints next to the 0.5 s budget the test used to assert.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from PySide6.QtWidgets import QApplication

from photosort.core.projection import MapLayout, normalise
from photosort.ui.map_view import MapView

BUDGET = 0.5


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50_000)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    view = MapView()
    view.resize(600, 500)
    view.show()
    app.processEvents()
    xy = normalise(np.random.default_rng(0).normal(size=(args.n, 2)))
    view.show_layout(MapLayout([f"/p/img{i:06d}.jpg" for i in range(args.n)], xy, "umap"))
    vp = view.canvas.viewport()
    vp.repaint()
    times = []
    for _ in range(9):
        t = time.perf_counter()
        vp.repaint()
        times.append(time.perf_counter() - t)
    median = float(np.median(times))
    print(
        f"{args.n:,} points: median repaint {median * 1000:.1f} ms; "
        f"budget {BUDGET * 1000:.0f} ms; ratio {median / BUDGET:.2f}"
    )
    view.shutdown()


if __name__ == "__main__":
    main()
