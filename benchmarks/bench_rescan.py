"""Rescan of an unchanged folder against its first index, side by side (speed, point 2).

Target: re-indexing an unchanged folder of 20,000 photos takes under 2% of its first index.

    python benchmarks/bench_rescan.py [--n 20000] [--model ID]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import small_corpus  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--model")
    args = parser.parse_args()
    folder = small_corpus(args.n)
    model = ["--model", args.model] if args.model else []
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "photosort", "index", str(folder), "--db", f"{tmp}/db", *model]
        times = []
        for label in ("first index", "rescan (unchanged)", "rescan again"):
            start = time.perf_counter()
            out = subprocess.run(cmd, check=True, capture_output=True, text=True)
            times.append(time.perf_counter() - start)
            print(f"{label:<20} {times[-1]:8.2f} s   {out.stdout.strip()}")
    ratio = min(times[1:]) / times[0]
    print(f"rescan / first index: {ratio:.2%}  (target < 2%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
