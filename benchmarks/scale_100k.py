"""Scale check: 100,000 small generated photos index and browse with peak memory under 1 GB.

Generates N small JPEGs (every file distinct, so every one is decoded and encoded), runs the real
`photosort index` on them, then, in a fresh process, does what the app does when it opens the
folder (photo_infos_under, latents_under, failures_under, a ranking) and finally a full
`photosort sort --like ... --limit 10` (rescan + rank). Each step runs in its own process and
reports wall time and peak resident memory (ru_maxrss of that child, via os.wait4).

    python benchmarks/scale_100k.py                    # 100,000 files (a few minutes)
    python benchmarks/scale_100k.py --count 2000 --json  # the small version the test suite runs

Figures from a run are in docs/reliability.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

LIMIT_MB = 1024
FILES_PER_FOLDER = 1000

BROWSE = r"""
import json, sys, time
t0 = time.perf_counter()
from photosort.core.similarity import LatentIndex
from photosort.core.store import Store
db, folder, model = sys.argv[1:4]
out = {}
with Store(db) as store:
    t = time.perf_counter(); infos = store.photo_infos_under(folder)
    out["photo_infos_under_s"] = time.perf_counter() - t; out["photos"] = len(infos)
    t = time.perf_counter(); paths, vectors = store.latents_under(folder, model)
    out["latents_under_s"] = time.perf_counter() - t; out["latents"] = len(paths)
    t = time.perf_counter(); failures = store.failures_under(folder)
    out["failures_under_s"] = time.perf_counter() - t; out["failures"] = len(failures)
    t = time.perf_counter()
    index = LatentIndex(paths, vectors, "euclidean")
    ranking = index.rank_like([paths[len(paths) // 2]])
    out["rank_s"] = time.perf_counter() - t
    out["best"] = paths[int(ranking.order[0])] == paths[len(paths) // 2]
    sub = folder + "/f00001"
    t = time.perf_counter(); out["subfolder_photos"] = len(store.photo_infos_under(sub))
    out["subfolder_s"] = time.perf_counter() - t
out["total_s"] = time.perf_counter() - t0
import sqlite3
conn = sqlite3.connect(db)
t = time.perf_counter(); out["quick_check"] = conn.execute("PRAGMA quick_check").fetchone()[0]
out["quick_check_s"] = time.perf_counter() - t  # what the command line adds when opening
conn.close()
print(json.dumps(out))
"""


def generate(folder: Path, count: int, seed: int = 1) -> float:
    """`count` distinct 48×32 JPEGs (~1 KB) in folders of FILES_PER_FOLDER; returns seconds."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    bases = []
    for _ in range(500):
        small = rng.integers(0, 256, (4, 6, 3), dtype=np.uint8)
        img = Image.fromarray(small).resize((48, 32), Image.Resampling.BILINEAR)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=80)
        bases.append(buf.getvalue())
    for i in range(count):
        sub = folder / f"f{i // FILES_PER_FOLDER:05d}"
        if i % FILES_PER_FOLDER == 0:
            sub.mkdir(parents=True, exist_ok=True)
        # Bytes after the JPEG's end make every file's content (and hash) unique.
        (sub / f"img{i:06d}.jpg").write_bytes(bases[i % len(bases)] + i.to_bytes(4, "big"))
    return time.perf_counter() - started


def measured(argv: list[str]) -> dict:
    """Run a child; its wall time, peak RSS (MB), exit status and output."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = b"", b""
    # wait4 gives this child's own rusage; read the pipes first so it cannot block on them.
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "returncode": proc.returncode,
        "stdout": out.decode("utf-8", "replace"),
        "stderr": err.decode("utf-8", "replace"),
    }


def run(count: int, workdir: Path, threads: int | None) -> dict:
    folder = workdir / "photos"
    db = workdir / "scale.sqlite3"
    result: dict = {"count": count}
    result["generate_s"] = round(generate(folder, count), 2)
    photosort = [sys.executable, "-m", "photosort"]
    extra = ["--threads", str(threads)] if threads else []
    index = measured([*photosort, "index", str(folder), "--db", str(db), *extra])
    result["index"] = index
    result["db_mb"] = round(db.stat().st_size / 2**20, 1)
    browse = measured([sys.executable, "-c", BROWSE, str(db), str(folder), "pixels-8x8"])
    result["browse"] = browse
    if browse["returncode"] == 0:
        result["browse_figures"] = json.loads(browse["stdout"])
    ref = folder / "f00000" / "img000007.jpg"
    sort = [*photosort, "sort", str(folder), "--like", str(ref), "--limit", "10", "--json"]
    result["sort"] = measured([*sort, "--db", str(db), *extra])
    rescan = measured([*photosort, "index", str(folder), "--db", str(db), *extra])
    result["rescan"] = rescan
    steps = [index, browse, result["sort"], rescan]
    result["peak_rss_mb"] = max(s["peak_rss_mb"] for s in steps)
    result["ok"] = (
        all(s["returncode"] == 0 for s in steps)
        and f"{count} photos: {count} indexed" in index["stdout"]
        and f"{count} unchanged" in rescan["stdout"]
        and result.get("browse_figures", {}).get("latents") == count
        and result["peak_rss_mb"] < LIMIT_MB
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, help="where to generate (default: a temp dir)")
    parser.add_argument("--threads", type=int, help="inference threads for photosort")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="photosort-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    env_db = os.environ.pop("PHOTOSORT_DB", None)  # the script always passes --db
    try:
        result = run(args.count, workdir, args.threads)
    finally:
        if env_db is not None:
            os.environ["PHOTOSORT_DB"] = env_db
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(f"{args.count} files generated in {result['generate_s']} s")
        for step in ("index", "browse", "sort", "rescan"):
            s = result[step]
            print(f"{step:7s} {s['seconds']:8.2f} s  peak RSS {s['peak_rss_mb']:7.1f} MB")
            if s["returncode"] != 0:
                print(s["stderr"])
        print("browse:", json.dumps(result.get("browse_figures", {})))
        print(
            f"database {result['db_mb']} MB; peak RSS {result['peak_rss_mb']} MB "
            f"(limit {LIMIT_MB} MB): {'OK' if result['ok'] else 'FAILED'}"
        )
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
