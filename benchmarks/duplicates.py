"""Duplicates: PhotoSort against pHash and dHash (imagehash), per kind of copy, in one run.

Builds a set from real photos (benchmarks/dupset.py: every dev folder of ../shared/data;
originals with one copy of each kind people make; same-landmark and same-class photos and
bursts as hard negatives), indexes it with the real indexer, groups it with
`photosort.core.duplicates.find_duplicates` at each strictness, and scores every pair:

  - precision: of the pairs put together, how many are an original and its copy (or two
    copies of one original);
  - recall per kind: of the (original, copy of that kind) pairs, how many were put together;
    "all" counts every pair of a family, copies with each other included.

pHash and dHash put a pair together when their Hamming distance is at most t; t is swept and the
best-F1 t is shown, then the t reaching PhotoSort's precision (for "more recall at equal
precision"). Targets: precision >= 0.98 and recall >= 0.95 at the default strictness.

    python benchmarks/duplicates.py [--model ID] [--data ../shared/data] [--work DIR]
    python benchmarks/duplicates.py --calibrate --model ID   # writes models/ID.json "duplicates"

Calibration uses the other half of the photos (dupset.py splits them): the thresholds are never
measured on the photos they were fitted to.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from dupset import KINDS, DupSet, build  # noqa: E402

from photosort.core.duplicates import STRICTNESS, find_duplicates  # noqa: E402
from photosort.core.encoders import Registry, load_manifest  # noqa: E402
from photosort.core.indexer import Indexer  # noqa: E402
from photosort.core.store import Store  # noqa: E402


def prepare(data: Path, work: Path, half: str, model: str | None) -> tuple[DupSet, Store, object]:
    root = work / half
    if (root / "truth.json").exists():
        truth = DupSet.load(root / "photos")
    else:
        t = time.perf_counter()
        truth = build(data, root, half)
        print(
            f"built the {half} set: {len(truth.family)} photos in {time.perf_counter() - t:.0f} s"
        )
    registry = Registry.default()
    encoder = registry.encoder(model)
    store = Store(root / f"{encoder.info.id}.sqlite3")
    Indexer(store, encoder).index_folder(root / "photos")
    return truth, store, encoder.info


def pair_sets(truth: DupSet) -> tuple[set[frozenset[str]], dict[str, set[frozenset[str]]]]:
    families: dict[str, list[str]] = {}
    for name, fam in truth.family.items():
        if fam.startswith("dup-"):
            families.setdefault(fam, []).append(name)
    every = {frozenset(p) for names in families.values() for p in combinations(names, 2)}
    per_kind: dict[str, set[frozenset[str]]] = {k: set() for k in KINDS}
    for names in families.values():
        orig = next(n for n in names if truth.kind[n] == "original")
        for n in names:
            if n != orig:
                per_kind[truth.kind[n]].add(frozenset((orig, n)))
    return every, per_kind


def score(predicted: set[frozenset[str]], truth: DupSet) -> dict[str, float]:
    every, per_kind = pair_sets(truth)
    right = len(predicted & every)
    out = {
        "pairs": len(predicted),
        "precision": right / len(predicted) if predicted else 1.0,
        "recall": right / len(every),
        "burst_pairs": sum(
            1
            for p in predicted
            if len({truth.family[n] for n in p}) == 1 and truth.family[next(iter(p))][:5] == "burst"
        ),
    }
    # For "similar shots", frames of one burst belong together too.
    out["precision_with_bursts"] = (
        (right + out["burst_pairs"]) / len(predicted) if predicted else 1.0
    )
    for kind, pairs in per_kind.items():
        out[kind] = len(predicted & pairs) / len(pairs)
    return out


def grouped_pairs(groups) -> set[frozenset[str]]:
    return {
        frozenset(Path(p).name for p in pair) for g in groups for pair in combinations(g.paths, 2)
    }


#: Copies as good as their original (same pixels, no loss): keeping one of them is no loss.
LOSSLESS = ("original", "exact", "png", "rotated-exif")


def keeper_score(groups, truth: DupSet) -> tuple[int, int, dict[str, int]]:
    """(groups whose keeper is the original or a lossless copy of it, groups holding an
    original, {kind of copy kept instead: count})."""
    right, total, wrong = 0, 0, {}
    for g in groups:
        kinds = [truth.kind[Path(p).name] for p in g.paths]
        if "original" not in kinds:
            continue
        total += 1
        kept = truth.kind[Path(g.keeper.path).name]
        if kept in LOSSLESS:
            right += 1
        else:
            wrong[kept] = wrong.get(kept, 0) + 1
    return right, total, wrong


def hash_pairs(truth: DupSet, fn) -> tuple[list[str], np.ndarray]:
    from PIL import Image, ImageOps

    names = sorted(truth.family)
    bits = []
    for name in names:
        with Image.open(truth.folder / name) as img:
            # Upright first, as the viewers these tools run in show it: fairer to them.
            bits.append(fn(ImageOps.exif_transpose(img)).hash.flatten())
    b = np.array(bits, dtype=np.uint8)
    dist = (b[:, None, :] != b[None, :, :]).sum(axis=2)
    return names, dist


def sweep(truth: DupSet, names: list[str], dist: np.ndarray) -> list[tuple[int, dict]]:
    iu = np.triu_indices(len(names), 1)
    out = []
    for t in range(0, 33):
        keep = dist[iu] <= t
        pred = {
            frozenset((names[i], names[j])) for i, j in zip(iu[0][keep], iu[1][keep], strict=True)
        }
        out.append((t, score(pred, truth)))
    return out


def f1(s: dict) -> float:
    p, r = s["precision"], s["recall"]
    return 2 * p * r / (p + r) if p + r else 0.0


COLUMNS = ("precision", "recall", *KINDS, "burst_pairs", "precision_with_bursts", "pairs")


def row(label: str, s: dict) -> str:
    cells = [f"{s[c]:.2f}" if isinstance(s[c], float) else str(s[c]) for c in COLUMNS]
    return f"| {label} | " + " | ".join(cells) + " |"


def evaluate(args: argparse.Namespace, work: Path) -> int:
    truth, store, info = prepare(Path(args.data), work, "evaluate", args.model)
    folder = truth.folder
    print(
        f"\n{len(truth.family)} photos; model {info.id}; "
        f"thresholds {json.dumps(info.extra.get('duplicates'))}\n"
    )
    print("| method | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    results = {}
    keepers = {}
    for strictness in STRICTNESS:
        t = time.perf_counter()
        report = find_duplicates(store, folder, info, strictness)
        took = time.perf_counter() - t
        results[strictness] = score(grouped_pairs(report.groups), truth)
        print(row(f"PhotoSort {strictness} ({took:.2f} s)", results[strictness]))
        keepers[strictness] = keeper_score(report.groups, truth)
        for note in report.notes:
            print(f"|   note: {note} |")
    import imagehash

    default = results["near"]
    for label, fn in (("pHash", imagehash.phash), ("dHash", imagehash.dhash)):
        names, dist = hash_pairs(truth, fn)
        swept = sweep(truth, names, dist)
        t_best, best = max(swept, key=lambda ts: f1(ts[1]))
        print(row(f"{label} t={t_best} (best F1)", best))
        ok = [ts for ts in swept if ts[1]["precision"] >= default["precision"]]
        if ok:
            t_eq, eq = max(ok, key=lambda ts: ts[1]["recall"])
            print(row(f"{label} t={t_eq} (precision >= PhotoSort's)", eq))
    met = default["precision"] >= 0.98 and default["recall"] >= 0.95
    print(
        f"\ndefault strictness: precision {default['precision']:.3f} (target 0.98), "
        f"recall {default['recall']:.3f} (target 0.95): {'met' if met else 'NOT met'}"
    )
    for strictness, (right, total, wrong) in keepers.items():
        print(
            f"keeper at {strictness}: the original or a lossless copy of it in {right} of "
            f"{total} groups holding an original"
            + (f"; kept instead: {json.dumps(wrong)}" if wrong else "")
        )
    store.close()
    return 0


def calibrate(args: argparse.Namespace, work: Path) -> int:
    """Latent thresholds for one model, from the calibration half, into its manifest."""
    truth, store, info = prepare(Path(args.data), work, "calibrate", args.model)
    folder = truth.folder
    paths, vectors = store.latents_under(folder, info.id)
    x = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    row_of = {Path(p).name: i for i, p in enumerate(paths)}

    def dist(a: str, b: str) -> float:
        return float(1.0 - x[row_of[a]] @ x[row_of[b]])

    _, per_kind = pair_sets(truth)
    # Near-copies the pixel signature only confirms after a search: crops, and framed copies.
    crops = [dist(*p) for p in per_kind["cropped"]]
    framed = [dist(*p) for p in per_kind["border"]]
    bursts: dict[str, list[str]] = {}
    for name, fam in truth.family.items():
        if fam.startswith("burst-"):
            bursts.setdefault(fam, []).append(name)
    burst = [dist(a, b) for names in bursts.values() for a, b in combinations(names, 2)]
    near = float(np.quantile(crops, 0.98))
    frame = float(np.quantile(framed, 0.98))
    similar = float(np.quantile(burst, 0.95))
    manifest = info.manifest_path
    raw = json.loads(manifest.read_text(encoding="utf-8"))
    raw["duplicates"] = {
        "near_copy_distance": round(near, 4),
        "framed_distance": round(frame, 4),
        "similar_distance": round(similar, 4),
        "calibrated_on": (
            f"benchmarks/duplicates.py --calibrate: {len(crops)} crops and {len(framed)} framed "
            f"copies (98th percentiles), {len(burst)} burst pairs (95th percentile), on the "
            "calibration half of the generated set"
        ),
    }
    manifest.write_text(json.dumps(raw, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    load_manifest(manifest)  # still valid
    print(
        f"{info.id}: near_copy_distance {near:.4f}, framed_distance {frame:.4f}, "
        f"similar_distance {similar:.4f} -> {manifest}"
    )
    store.close()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="encoder id (default: the default encoder)")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--work", help="keep the generated sets here (reused when present)")
    parser.add_argument("--calibrate", action="store_true", help="write the model's thresholds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        return calibrate(args, work) if args.calibrate else evaluate(args, work)


if __name__ == "__main__":
    sys.exit(main())
