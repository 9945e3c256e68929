"""Duplicates in a 100,000-photo folder: grouping time and peak memory (targets: < 3 s,
< 1 GB), and what finding the links costs, once and per batch of new photos.

The photos' facts come from a real index: every photo of ../shared/data (scenes-train,
scenes-test, everyday-dev, landmarks-dev, camera: ~18,300 real photos, indexed here with the
real indexer, kept with --work). That is fewer than 100,000, so the rest are replicas of them that
stay unrelated to their sources and to each other, while keeping the real neighbourhoods inside
each replica: a replica's latents are turned by a random rotation of the latent space (every
distance inside the replica unchanged, none shared with the others), and its signatures are
mirrored and/or inverted (a mirror is not a turn the grouping looks for, and an inverted picture
correlates at -1) or, from the fifth replica on, their halves swapped both ways (a mirror and an
upside-down flip would together be a half turn, which the grouping finds). One real near-copy in
the data is then one near-copy in every replica, as in a bigger real folder. The real photos keep
their paths (the keeper reads their files); the replicas' paths do not exist.

Everything goes into a real store (a SQLite file in --work), and each step runs in a fresh
process whose wall-clock time, CPU time and peak resident memory (ru_maxrss) are reported:

  1. link: `link_duplicates` on all N photos, none looked at before: what indexing a folder of N
     new photos adds at its end (once);
  2. group: `find_duplicates` at the default strictness, twice: **the timed target** is the
     second, what the app and `photosort duplicates` do on an indexed folder; the first also
     reads, once, what choosing keepers needs from the grouped photos' files (editor tags,
     sharpness of same-size shots; the replicas' files do not exist and fail at once);
  3. add: --add more photos (another replica) stored, then `link_duplicates`: what indexing a
     batch of new photos adds in a folder of N;
  4. group again (twice), with them.

    python benchmarks/duplicates_scale.py [--count 100000] [--add 1000] [--work DIR]
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

# Fills the scale store from the real one: replica r of the real photos from row `start`.
FILL = r"""
import sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from photosort.core.store import Store
from photosort.core.signature import SIDE

real_db, scale_db, model, folder = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
count, first_replica = int(sys.argv[6]), int(sys.argv[7])
with Store(real_db) as real:
    rows = real.duplicate_facts_under(folder + "/real", model)
rows = [r for r in rows if r[8] is not None and r[9] is not None]
n = len(rows)
half = SIDE // 2
variants = [
    lambda s: s,
    lambda s: s[:, ::-1],  # mirrored
    lambda s: 255 - s,  # inverted
    lambda s: 255 - s[:, ::-1],
    lambda s: np.roll(s, (half, half), axis=(0, 1)),
    lambda s: 255 - np.roll(s, (half, half), axis=(0, 1)),
]
rng = np.random.default_rng(first_replica)
done, replica = 0, first_replica
with Store(scale_db) as store:
    while done < count:
        take = min(n, count - done)
        q = None
        if replica:
            q, _ = np.linalg.qr(rng.normal(size=(len(rows[0][9]) // 4,) * 2))
            q = q.astype(np.float32)
        with store.transaction() as conn:
            for r in rows[:take]:
                path = r[1] if replica == 0 else r[1].replace(
                    folder + "/real/", f"{folder}/replica-{replica}/", 1)
                h = None if r[4] is None else r[4] + bytes([replica % 256, replica // 256])
                pid = store.upsert_photo(conn, path, r[2], r[3], h, r[5], r[6], r[7])
                s = np.frombuffer(r[8], np.uint8).reshape(SIDE, SIDE)
                store.put_signature(conn, pid, np.ascontiguousarray(
                    variants[replica % len(variants)](s)).tobytes())
                lat = np.frombuffer(r[9], np.float32)
                store.put_latent(conn, pid, model, lat if q is None else lat @ q)
        done += take
        replica += 1
print(replica)
"""

# One step in a fresh process: link or group, with its time and peak memory.
STEP = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from photosort.core import duplicates as dup
from photosort.core.encoders import Registry
from photosort.core.store import Store

db, folder, model, step = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
info = Registry.default().info(model)
t, cpu = time.perf_counter(), time.process_time()
with Store(db) as store:
    if step == "link":
        dup.link_duplicates(store, folder, info)
        out = {}
    else:
        report = dup.find_duplicates(store, folder, info, "near")
        out = {"photos": report.photos, "groups": len(report.groups),
               "in_groups": sum(len(g.photos) for g in report.groups)}
out.update(wall_s=time.perf_counter() - t, cpu_s=time.process_time() - cpu,
           peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(json.dumps(out))
"""


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--add", type=int, default=1_000, help="new photos added afterwards")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--work", help="keep the index of the real photos here")
    parser.add_argument("--model", help="encoder id (default: the default encoder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp).resolve()
        real = work / "real"
        real.mkdir(parents=True, exist_ok=True)
        for name in FOLDERS:
            link = real / name
            if not link.exists():
                link.symlink_to(Path(args.data).resolve() / name, target_is_directory=True)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        sys.path.insert(0, str(ROOT))
        from photosort.core.encoders import Registry

        model = args.model or Registry.default().default_id()
        real_db = work / f"real-{model}.sqlite3"
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "photosort", "index", str(real), "--db", str(real_db),
             "--model", model],
            check=True, env=env,
        )  # fmt: skip
        print(f"indexed the real photos in {time.perf_counter() - t:.0f} s (less when kept)")
        scale_db = work / f"scale-{model}-{args.count}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{scale_db}{suffix}").unlink(missing_ok=True)

        def run(code: str, *more: str) -> str:
            out = subprocess.run(
                [sys.executable, "-c", code, str(ROOT), *more],
                check=True, capture_output=True, text=True, env=env,
            )  # fmt: skip
            return out.stdout

        def step(name: str) -> dict:
            r = json.loads(run(STEP, str(scale_db), str(work), model, name))
            print(
                f"  {name:5s} wall {r['wall_s']:7.2f} s   CPU {r['cpu_s']:7.2f} s   "
                f"peak {r['peak_mb']:6.0f} MB"
                + (f"   {r['groups']:,} groups, {r['in_groups']:,} photos in them of "
                   f"{r['photos']:,}" if "groups" in r else "")
            )  # fmt: skip
            return r

        t = time.perf_counter()
        replicas = int(
            run(FILL, str(real_db), str(scale_db), model, str(work), str(args.count), "0")
        )
        print(
            f"stored {args.count:,} photos ({replicas} replicas) in {time.perf_counter() - t:.0f} s"
        )
        print(f"{args.count:,} photos:")
        linked = step("link")
        first = step("group")  # (also reads the files a keeper choice needs, once)
        grouped = step("group")
        run(FILL, str(real_db), str(scale_db), model, str(work), str(args.add), str(replicas))
        print(f"+ {args.add:,} new photos:")
        added = step("link")
        step("group")
        again = step("group")
        print(
            f"grouping {grouped['photos']:,} indexed photos: {grouped['wall_s']:.2f} s "
            f"(target < 3 s; CPU {grouped['cpu_s']:.2f} s), peak {grouped['peak_mb']:.0f} MB "
            f"(target < 1024 MB); the first time, reading what keepers need from files: "
            f"{first['wall_s']:.2f} s; with {args.add:,} more: {again['wall_s']:.2f} s.\n"
            f"finding the links, at the end of indexing: {linked['cpu_s']:.0f} s of CPU once for "
            f"{args.count:,} new photos ({1000 * linked['cpu_s'] / args.count:.2f} ms a photo), "
            f"{added['cpu_s']:.1f} s for {args.add:,} new in a folder of {args.count:,} "
            f"({1000 * added['cpu_s'] / args.add:.1f} ms a photo)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
