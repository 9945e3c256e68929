"""How well does each encoder sort? Class-retrieval mAP and precision@10 on a labelled folder.

The folder has one sub-folder per class. From each class, ``per_class`` query photos are drawn
with a fixed seed; for each query every *other* photo of the folder is ranked by similarity
to it, and a photo of the same class counts as a hit. We report the mean average precision over
all queries (mAP) and the mean precision of the first 10 results (P@10), for every installed
encoder and for two encoder-free baselines: 8x8 thumbnail pixels (Euclidean) and an HSV colour
histogram (8x4x4 bins, Hellinger distance). Numpy only: no torch.

Every ranking goes through the app's own :class:`~photosort.core.similarity.LatentIndex`
(``rank_like``, as ``photosort sort`` and the grid use it), so whatever the ranking does beyond a
plain distance is what gets measured. ``evaluate_suite`` runs several folders and
``format_summary`` puts them side by side (models as rows, folders as columns, their mean last).
Models whose manifest says ``"reference": true`` (the plain ImageNet backbone) are measured like
every other model but are not offered in the app.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from photosort.core.decode import load_for_model
from photosort.core.expansion import QueryExpansion

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
    kind: str  # "encoder", "generative", "reference" or "baseline"
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


def retrieval_metrics(
    vectors: np.ndarray,
    labels: np.ndarray,
    queries: np.ndarray,
    metric: str,
    k: int = 10,
    expansion: QueryExpansion | None = None,
) -> tuple[float, float]:
    """(mAP, precision@k): each query ranks every other photo (itself left out), in the order
    the app's ranking gives (``LatentIndex.rank_like``)."""
    from photosort.core.similarity import LatentIndex

    labels = np.asarray(labels)
    names = [str(i) for i in range(len(labels))]
    index = LatentIndex(names, np.asarray(vectors), metric, expansion)
    aps, precs = [], []
    for q in queries:
        order = index.rank_like([str(int(q))]).order
        order = order[order != q]  # the query leads its own ranking: leave it out
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

    def add(model_id, name, kind, metric, vectors, t0, default=False, expansion=None) -> None:
        m, p = retrieval_metrics(vectors, data.labels, queries, metric, expansion=expansion)
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
    infos = registry.models(include_references=True)
    if model_ids:
        wanted = list(model_ids)
        known = {i.id: i for i in infos}
        infos = [known[m] if m in known else registry.info(m) for m in wanted]
    for info in infos:
        t0 = time.monotonic()
        enc = registry.encoder(info.id)
        vecs = _encode_all(data.paths, info.input_size, info.resize, enc.encode, info.id, progress)
        kind = "reference" if info.reference else "generative" if info.generative else "encoder"
        add(info.id, info.name, kind, info.metric, vecs, t0, info.default, info.query_expansion)
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


def _aligned(head: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns: a header line, a rule, then one line per row."""
    widths = [
        max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for b in body:
        lines.append("  ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)).rstrip())
    return lines


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
    lines = _aligned(head, body)
    if rows:
        r = rows[0]
        lines.append(f"{r.photos} photos, {r.queries} queries (query left out of its ranking)")
    return "\n".join(lines)


def evaluate_suite(
    folders: Sequence[str | Path],
    model_ids: Sequence[str] | None = None,
    progress: Progress | None = None,
    *,
    per_class: int = 10,
    seed: int = 0,
    baselines: bool = True,
    registry=None,
) -> dict[str, list[EvalRow]]:
    """``evaluate_folder`` on each folder, keyed by the folder's name (made unique)."""
    if registry is None:
        from photosort.core.encoders import Registry

        registry = Registry.default()
    out: dict[str, list[EvalRow]] = {}
    for folder in folders:
        name = Path(folder).resolve().name or str(folder)
        key, n = name, 2
        while key in out:
            key, n = f"{name} ({n})", n + 1

        def folder_progress(what: str, done: int, total: int, key=key) -> None:
            if progress is not None:
                progress(f"{key}: {what}", done, total)

        out[key] = evaluate_folder(
            folder,
            model_ids,
            folder_progress,
            per_class=per_class,
            seed=seed,
            baselines=baselines,
            registry=registry,
        )
    return out


def summary_rows(tables: dict[str, list[EvalRow]]) -> list[dict]:
    """One dict per model: id, kind, mAP per folder and the mean over the folders (best first).

    A model missing from a folder (it could not be measured there) gets no mean, so a mean is
    always over the same folders as every other model's.
    """
    folders = list(tables)
    by_model: dict[str, dict] = {}
    for folder, rows in tables.items():
        for r in rows:
            entry = by_model.setdefault(
                r.model_id, {"model": r.model_id, "kind": r.kind, "default": r.default, "map": {}}
            )
            entry["map"][folder] = r.map
    for entry in by_model.values():
        vals = [entry["map"].get(f) for f in folders]
        entry["mean"] = None if None in vals else float(np.mean(vals))
    return sorted(by_model.values(), key=lambda e: -(e["mean"] if e["mean"] is not None else -1))


def format_summary(tables: dict[str, list[EvalRow]]) -> str:
    """Models as rows, folders as columns (mAP), the mean over the folders last."""
    folders = list(tables)
    head = ["model", *folders, "mean"]
    body = []
    for e in summary_rows(tables):
        label = e["model"] + (" (default)" if e["default"] else "")
        cells = [f"{e['map'][f]:.3f}" if f in e["map"] else "-" for f in folders]
        body.append([label, *cells, "-" if e["mean"] is None else f"{e['mean']:.3f}"])
    lines = _aligned(head, body)
    lines.append("mAP, query left out of its ranking; mean over the folders")
    return "\n".join(lines)
