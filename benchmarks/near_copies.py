"""Does `photosort sort --like ORIGINAL` find the original's near-copies?

Builds a folder of real photos, ``--n`` from each ``--data`` folder (default: scenes-test,
everyday-dev and landmarks-dev, so people, animals, things and places as well as scenery), plus
near-copies of ``--refs`` of each folder's photos (cropped, resized, re-compressed), then runs
the real `photosort sort` command for each original and prints where its near-copies rank (the
target: within the top 3).

    python benchmarks/near_copies.py [--data DIR ...] [--model ID]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent


def build(
    data: Path, out: Path, n: int, n_refs: int, seed: int, tag: str = ""
) -> list[tuple[Path, list[Path]]]:
    photos = sorted(data.rglob("*.jpg"))
    rng = random.Random(seed)
    chosen = rng.sample(photos, min(n, len(photos)))
    for i, src in enumerate(chosen):
        (out / f"{tag}{i:03d}_{src.parent.name}_{src.stem.replace('_', '-')}.jpg").write_bytes(
            src.read_bytes()
        )
    originals = sorted(out.glob(f"{tag}*.jpg"))[:: max(1, n // n_refs)][:n_refs]
    cases = []
    for orig in originals:
        img = Image.open(orig).convert("RGB")
        w, h = img.size
        copies = []
        crop = img.crop((int(w * 0.08), int(h * 0.08), int(w * 0.92), int(h * 0.92)))
        variants = {
            "crop": crop,
            "resized": img.resize((w * 2 // 3, h * 2 // 3), Image.Resampling.LANCZOS),
            "recompressed": img,
        }
        for kind, variant in variants.items():
            path = out / f"zz_{orig.stem}_{kind}.jpg"
            variant.save(path, quality=40 if kind == "recompressed" else 85)
            copies.append(path)
        cases.append((orig, copies))
    return cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", action="append", help="photo folder (repeatable)")
    parser.add_argument("--model")
    parser.add_argument("--n", type=int, default=150, help="photos taken from each folder")
    parser.add_argument("--refs", type=int, default=8, help="originals copied per folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        db = Path(tmp) / "db.sqlite3"
        shared = HERE.parent.parent / "shared/data"
        sources = args.data or [
            str(shared / n) for n in ("scenes-test", "everyday-dev", "landmarks-dev")
        ]
        cases = []
        for k, data in enumerate(sources):
            cases += build(Path(data), folder, args.n, args.refs, seed=7, tag=f"{chr(97 + k)}")
        model = ["--model", args.model] if args.model else []
        worst = 0
        for orig, copies in cases:
            cmd = [sys.executable, "-m", "photosort", "sort", str(folder), "--like", str(orig)]
            out = subprocess.run(
                cmd + ["--json", "--db", str(db), *model], capture_output=True, text=True
            )
            if out.returncode != 0:
                print(out.stderr, file=sys.stderr)
                return 1
            ranking = [r["path"] for r in json.loads(out.stdout)]
            ranks = {c.stem.rsplit("_", 1)[1]: ranking.index(str(c)) for c in copies}
            worst = max(worst, *ranks.values())
            print(f"{orig.name[:48]:<48} " + "  ".join(f"{k}: #{v}" for k, v in ranks.items()))
        total = len(list(folder.glob("*.jpg")))
        print(f"{total} photos; worst rank of a near-copy: #{worst} (target: within the top 3)")
        return 0 if worst <= 3 else 1


if __name__ == "__main__":
    sys.exit(main())
