"""How well does each encoder sort? Class-retrieval mAP and precision@10 on a labelled folder.

The folder has one sub-folder per class. From each class, ``per_class`` query photos are drawn
with a fixed seed; for each query every *other* photo of the folder is ranked by similarity
to it, and a photo of the same class counts as a hit. We report the mean average precision over
all queries (mAP) and the mean precision of the first 10 results (P@10), for every installed
encoder and for two encoder-free baselines: 8x8 thumbnail pixels (Euclidean) and an HSV colour
histogram (8x4x4 bins, Hellinger distance). Numpy only: no torch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from photosort.core.decode import load_for_model

IMAGE_EXTENSIONS = {
    ".jpg",
    ".jpeg",
    ".png",
    ".bmp",
    ".gif",
    ".webp",
    ".tif",
    ".tiff",
    ".heic",
    ".heif",
}

#: Called as progress(what, done, total) while photos are encoded.
Progress = Callable[[str, int, int], None]

BASELINE_PIXELS = "baseline:pixels-8x8"
BASELINE_HISTOGRAM = "baseline:hsv-histogram"


@dataclass
class EvalRow:
    """One line of the evaluation table."""

    model_id: str
    name: str
    kind: str  # "encoder", "generative" or "baseline"
    metric: str
    latent_size: int
    map: float
    p_at_10: float
    photos: int
    queries: int
    seconds: float
    default: bool = False

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class LabelledFolder:
    """Photos of a folder with one sub-folder per class, in a stable (sorted) order."""

    paths: list[Path]
    labels: np.ndarray  # int class index per photo
    classes: list[str]


def scan_labelled(folder: str | Path) -> LabelledFolder:
    """Find the photos of each class sub-folder (recursively inside it), sorted by path."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"not a folder: {root}")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    paths: list[Path] = []
    labels: list[int] = []
    for ci, cls in enumerate(classes):
        files = sorted(
            p
            for p in (root / cls).rglob("*")
            if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
        )
        paths += files
        labels += [ci] * len(files)
    used = sorted({classes[i] for i in labels})
    if len(used) < 2:
        raise ValueError(f"{root} needs at least two class sub-folders with photos in them")
    return LabelledFolder(paths, np.asarray(labels, dtype=np.int64), classes)


def choose_queries(labels: np.ndarray, per_class: int = 10, seed: int = 0) -> np.ndarray:
    """Indices of ``per_class`` query photos per class (all of a class if it has fewer), drawn
    with a fixed seed so that figures are comparable between encoders and runs."""
    rng = np.random.default_rng(seed)
    out: list[int] = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        k = min(per_class, len(members))
        out += sorted(rng.choice(members, size=k, replace=False).tolist())
    return np.asarray(out, dtype=np.int64)


def distances(vectors: np.ndarray, queries: np.ndarray, metric: str) -> np.ndarray:
    """[len(queries), N] distances (smaller = more similar) for "cosine" or "euclidean"."""
    x = np.asarray(vectors, dtype=np.float64)
    if metric == "cosine":
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        return 1.0 - x[queries] @ x.T
    if metric == "euclidean":
        q = x[queries]
        d2 = (q * q).sum(1)[:, None] + (x * x).sum(1)[None, :] - 2.0 * q @ x.T
        return np.sqrt(np.maximum(d2, 0.0))
    raise ValueError(f"unknown metric {metric!r}")


def retrieval_metrics(
    vectors: np.ndarray, labels: np.ndarray, queries: np.ndarray, metric: str, k: int = 10
) -> tuple[float, float]:
    """(mAP, precision@k): each query ranks every other photo (itself left out)."""
    dist = distances(vectors, queries, metric)
    labels = np.asarray(labels)
    aps, precs = [], []
    for row, q in enumerate(queries):
        d = dist[row].copy()
        d[q] = np.inf
        order = np.argsort(d, kind="stable")[:-1]  # the query itself sorts last: drop it
        hits = labels[order] == labels[q]
        n_rel = int(hits.sum())
        precs.append(float(hits[:k].mean()) if len(hits) else 0.0)
        if n_rel == 0:
            aps.append(0.0)
            continue
        ranks = np.flatnonzero(hits) + 1
        aps.append(float((np.arange(1, n_rel + 1) / ranks).mean()))
    return float(np.mean(aps)), float(np.mean(precs))


def hsv_histogram(rgb: np.ndarray, bins: tuple[int, int, int] = (8, 4, 4)) -> np.ndarray:
    """Normalised HSV histogram of a uint8 HxWx3 RGB image (hue 8, saturation 4, value 4)."""
    from PIL import Image

    hsv = np.asarray(Image.fromarray(rgb).convert("HSV"), dtype=np.int64)
    idx = [np.minimum(hsv[..., i] * bins[i] // 256, bins[i] - 1) for i in range(3)]
    flat = (idx[0] * bins[1] + idx[1]) * bins[2] + idx[2]
    hist = np.bincount(flat.ravel(), minlength=bins[0] * bins[1] * bins[2]).astype(np.float64)
    return hist / max(hist.sum(), 1.0)


def _encode_all(
    paths: Sequence[Path],
    size: tuple[int, int],
    resize: str,
    fn: Callable[[np.ndarray], np.ndarray],
    what: str,
    progress: Progress | None,
    batch_size: int = 32,
) -> np.ndarray:
    out: list[np.ndarray] = []
    for start in range(0, len(paths), batch_size):
        chunk = paths[start : start + batch_size]
        batch = np.stack([load_for_model(p, size, resize) for p in chunk])
        out.append(np.asarray(fn(batch), dtype=np.float32))
        if progress is not None:
            progress(what, min(start + batch_size, len(paths)), len(paths))
    return np.concatenate(out)


def evaluate_folder(
    folder: str | Path,
    model_ids: Sequence[str] | None = None,
    progress: Progress | None = None,
    *,
    per_class: int = 10,
    seed: int = 0,
    baselines: bool = True,
    registry=None,
) -> list[EvalRow]:
    """Evaluate the installed encoders (or ``model_ids``) and the baselines on ``folder``."""
    data = scan_labelled(folder)
    queries = choose_queries(data.labels, per_class, seed)
    rows: list[EvalRow] = []

    def add(model_id, name, kind, metric, vectors, t0, default=False) -> None:
        m, p = retrieval_metrics(vectors, data.labels, queries, metric)
        rows.append(
            EvalRow(
                model_id,
                name,
                kind,
                metric,
                int(vectors.shape[1]),
                m,
                p,
                len(data.paths),
                len(queries),
                time.monotonic() - t0,
                default,
            )
        )

    if registry is None:
        from photosort.core.encoders import Registry

        registry = Registry.default()
    infos = registry.models()
    if model_ids:
        wanted = list(model_ids)
        known = {i.id: i for i in infos}
        infos = [known[m] if m in known else registry.info(m) for m in wanted]
    for info in infos:
        t0 = time.monotonic()
        enc = registry.encoder(info.id)
        vecs = _encode_all(data.paths, info.input_size, info.resize, enc.encode, info.id, progress)
        kind = "generative" if info.generative else "encoder"
        add(info.id, info.name, kind, info.metric, vecs, t0, info.default)
    if baselines:
        t0 = time.monotonic()
        vecs = _encode_all(
            data.paths,
            (8, 8),
            "squash",
            lambda b: b.reshape(len(b), -1).astype(np.float32),
            BASELINE_PIXELS,
            progress,
        )
        add(BASELINE_PIXELS, "8x8 thumbnail pixels", "baseline", "euclidean", vecs, t0)
        t0 = time.monotonic()
        # Hellinger distance between histograms = Euclidean distance between their square roots.
        vecs = _encode_all(
            data.paths,
            (128, 128),
            "squash",
            lambda b: np.stack([np.sqrt(hsv_histogram(im)) for im in b]),
            BASELINE_HISTOGRAM,
            progress,
        )
        add(BASELINE_HISTOGRAM, "HSV colour histogram 8x4x4", "baseline", "euclidean", vecs, t0)
    return rows


def format_table(rows: Sequence[EvalRow]) -> str:
    """A plain-text table, best mAP first."""
    ordered = sorted(rows, key=lambda r: -r.map)
    head = ("model", "kind", "latent", "metric", "mAP", "P@10", "seconds")
    body = [
        (
            r.model_id + (" (default)" if r.default else ""),
            r.kind,
            str(r.latent_size),
            r.metric,
            f"{r.map:.3f}",
            f"{r.p_at_10:.3f}",
            f"{r.seconds:.1f}",
        )
        for r in ordered
    ]
    widths = [
        max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for b in body:
        lines.append("  ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)).rstrip())
    if rows:
        r = rows[0]
        lines.append(f"{r.photos} photos, {r.queries} queries (query left out of its ranking)")
    return "\n".join(lines)
