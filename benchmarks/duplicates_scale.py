"""Grouping 100,000 indexed photos: time and peak memory (targets: < 3 s, < 1 GB).

The photos' facts come from a real index: every photo of ../shared/data (scenes-train,
scenes-test, everyday-dev, landmarks-dev, camera: ~18,500 real photos, indexed here with the
real indexer into a work database, kept with --work). That is fewer than 100,000, so the rest are
replicas of them that stay unrelated to their sources and to each other, while keeping the real
neighbourhoods inside each replica: a replica's latents are turned by a random rotation of the
latent space (every distance inside the replica unchanged, none shared with the others), and
its signatures are mirrored and/or inverted (a mirror is not a turn the grouping looks for, and
an inverted picture correlates at -1) or, from the fifth replica on, their halves swapped both
ways (a mirror and an upside-down flip would together be a half turn, which the grouping finds:
an earlier version did so and its replicas matched each other). One real near-copy in the data
is then one near-copy in every replica (crops: in the first four), as in a bigger real folder.

The timed step is `group_photos` (candidates, checks, grouping, keepers) on arrays already in
memory, in a fresh child process whose peak resident memory (ru_maxrss) is reported, with its
wall-clock time and its CPU time (on a machine busy with other work, the CPU time is what the
step itself costs); reading the same facts from the store is timed on the real part.

    python benchmarks/duplicates_scale.py [--count 100000] [--work DIR] [--strictness near]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FOLDERS = ("scenes-train", "scenes-test", "everyday-dev", "landmarks-dev", "camera")

CHILD = r"""
import json, resource, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
from photosort.core import duplicates as dup
from photosort.core.encoders import Registry
from photosort.core.store import Store
from photosort.core.signature import SIDE

db, folder, model, count, strictness = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6]
info = Registry.default().info(model)
t = time.perf_counter()
with Store(db) as store:
    rows = store.duplicate_facts_under(folder, model)
read_s = time.perf_counter() - t
rows = [r for r in rows if r[8] is not None and r[9] is not None]
n = len(rows)
base_sig = np.frombuffer(b"".join(r[8] for r in rows), np.uint8).reshape(n, SIDE, SIDE)
base_lat = np.frombuffer(b"".join(r[9] for r in rows), np.float32).reshape(n, -1)
rng = np.random.default_rng(0)
# Two mirror images differ by a turn (a mirror then an upside-down flip is a half turn), which
# the grouping looks for: one mirror at most. The last two halve the picture both ways and swap
# the halves (no turn or crop of the others; near-copies but crops stay near-copies in them).
half = SIDE // 2
variants = [
    lambda s: s,
    lambda s: s[:, :, ::-1],            # mirrored
    lambda s: 255 - s,                  # inverted
    lambda s: 255 - s[:, :, ::-1],
    lambda s: np.roll(s, (half, half), axis=(1, 2)),
    lambda s: 255 - np.roll(s, (half, half), axis=(1, 2)),
]
# The arrays are filled in place, replica by replica: concatenating lists of replicas would
# hold every array twice, and the peak memory reported is the process's.
signatures = np.empty((count, SIDE, SIDE), np.uint8)
latents = np.empty((count, base_lat.shape[1]), np.float32)
photos = []
replica = 0
while len(photos) < count:
    take = min(n, count - len(photos))
    at = slice(len(photos), len(photos) + take)
    if replica:
        q, _ = np.linalg.qr(rng.normal(size=(base_lat.shape[1],) * 2))
        np.matmul(base_lat[:take], q.astype(np.float32), out=latents[at])
    else:
        latents[at] = base_lat[:take]
    signatures[at] = variants[replica % len(variants)](base_sig[:take])
    for i, r in enumerate(rows[:take]):
        h = None if r[4] is None else r[4] + bytes([replica % 256, replica // 256])
        photos.append(dup.Photo(len(photos), f"{r[1]}#{replica}", r[2], r[3], h, r[5], r[6], r[7]))
    replica += 1
del base_sig, base_lat, rows
thresholds = dup.Thresholds.of(info)
inputs_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t, cpu = time.perf_counter(), time.process_time()
groups = dup.group_photos(photos, signatures, latents, strictness, thresholds)
group_s, cpu_s = time.perf_counter() - t, time.process_time() - cpu
print(json.dumps({
    "photos": len(photos), "real_photos": n, "replicas": replica, "read_real_s": read_s,
    "group_s": group_s, "cpu_s": cpu_s, "groups": len(groups),
    "in_groups": sum(len(g.photos) for g in groups),
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "peak_before_grouping_mb": inputs_mb,
}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--work", help="keep the index of the real photos here")
    parser.add_argument("--model", help="encoder id (default: the default encoder)")
    parser.add_argument("--strictness", default="near")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        folder = work / "real"
        folder.mkdir(parents=True, exist_ok=True)
        for name in FOLDERS:
            link = folder / name
            if not link.exists():
                link.symlink_to(Path(args.data).resolve() / name, target_is_directory=True)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        sys.path.insert(0, str(ROOT))
        from photosort.core.encoders import Registry

        model = args.model or Registry.default().default_id()
        db = work / f"real-{model}.sqlite3"
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "photosort", "index", str(folder), "--db", str(db),
             "--model", model],
            check=True,
            env=env,
        )  # fmt: skip
        print(f"indexed the real photos in {time.perf_counter() - t:.0f} s (0 when kept)")
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(ROOT), str(db), str(folder), model,
             str(args.count), args.strictness],
            check=True, capture_output=True, text=True, env=env,
        )  # fmt: skip
        r = json.loads(out.stdout)
        print(json.dumps(r, indent=1))
        print(
            f"grouping {r['photos']:,} photos ({r['real_photos']:,} real, {r['replicas']} "
            f"replicas), strictness {args.strictness}: {r['group_s']:.2f} s (target < 3 s; "
            f"CPU time {r['cpu_s']:.2f} s, less than the wall clock's on a busy machine), "
            f"peak memory {r['peak_mb']:.0f} MB (target < 1024 MB; "
            f"{r['peak_before_grouping_mb']:.0f} MB before grouping: the photos' facts in "
            f"memory); reading the real part's "
            f"facts from the store: {r['read_real_s']:.2f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
