"""Content encoders built on ImageNet-trained EfficientNet-Lite features.

``build_content_encoder``: backbone -> global average pooling -> L2 -> centring and a PCA
projection fitted on the training folder (unlabelled) -> ``latent_size`` floats. Everything is
baked into one ONNX graph; the core L2-normalises and ranks by cosine.

``train_content_vae``: a variational autoencoder *over those features* that also generates
pixels. Its encoder is the frozen content encoder followed by a small MLP giving ``mu`` (the
latent, <= 128 floats); its decoders rebuild both the content features (so the latent keeps
what the photo shows) and a 64x64 picture (so the app can show "what the model sees").

Selection notes (on a split of scenes-train, never on scenes-test), see MODEL_CARD.md:
average pooling beat GeM (p=3) for these scene photos, flip averaging added ~0.002 mAP for twice
the cost (left out), centring + PCA projection helped and full PCA-whitening hurt badly.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import data as D
from .backbones import BACKBONES, TF_LITE_MEAN, TF_LITE_STD, load_backbone, weights_tag
from .export import compress_fp16_weights, export_onnx, onnx_paths, write_manifest
from .models import ConvDecoder, ConvEncoder
from .plots import loss_curve_png, recon_grid_png
from .progress import ProgressBar

CONTENT_NAME = "Content (EfficientNet-Lite{n})"
CONTENT_DESCRIPTION = "What the photo shows: mountains, sea, forest, buildings, streets"
CONTENT_VAE_NAME = "Content VAE"
CONTENT_VAE_DESCRIPTION = "What the photo shows: scenery, buildings, water, trees (generative)"
CONTENT_PIXEL_VAE_NAME = "Content + colour VAE"
CONTENT_PIXEL_VAE_DESCRIPTION = (
    "What the photo shows, then its colours and composition; can redraw the photo"
)


class ContentEncoder(nn.Module):
    """[N,3,H,W] TF-Lite-normalised pixels -> [N, latent] projected pooled features."""

    def __init__(self, backbone: nn.Module, mean: np.ndarray, proj: np.ndarray):
        super().__init__()
        self.backbone = backbone
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("proj", torch.as_tensor(proj, dtype=torch.float32))

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        f = self.backbone.extract_features(x).mean(dim=(2, 3))
        return F.normalize(f, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.pooled(x) - self.mean) @ self.proj


def fit_pca(features: np.ndarray, latent_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Centre and top-``latent_size`` principal directions of L2-normalised features.

    No whitening: on held-out scenes-train photos, scaling components to unit variance lowered
    mAP from 0.71 to 0.40 (it amplifies the many noisy low-variance directions).
    """
    f = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    mean = f.mean(axis=0)
    cov = np.cov((f - mean).T)
    w, v = np.linalg.eigh(cov)
    order = np.argsort(-w)[:latent_size]
    return mean.astype(np.float32), v[:, order].astype(np.float32)


def fit_class_whitening(
    features: np.ndarray,
    labels: list[str],
    mean: np.ndarray,
    proj: np.ndarray,
    shrinkage: float = 1.0,
) -> np.ndarray:
    """Whitening learnt from the training folder's classes, applied after the PCA projection.

    Like the learned whitening of Radenović et al. (2018): divide out the *within-class*
    covariance, so directions along which photos of one kind of scene vary (lighting, colour
    cast) weigh less than directions that separate kinds of scene. ``shrinkage`` adds that
    multiple of the mean eigenvalue before inverting, which keeps the map close to a rotation
    and stops it from blowing up noise dimensions. Returns the new [1280, d] projection.
    """
    f = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    z = (f - mean) @ proj
    lab = np.asarray(labels)
    centred = np.concatenate([z[lab == c] - z[lab == c].mean(0) for c in np.unique(lab)])
    w, v = np.linalg.eigh(np.cov(centred.T))
    whiten = v * (w + shrinkage * w.mean()) ** -0.5
    # Keep the overall scale comparable to the plain projection.
    whiten *= np.sqrt(w.mean())
    return (proj @ whiten).astype(np.float32)


def sample_paths(data: str | Path, max_images: int | None, seed: int = 0) -> list[Path]:
    """A seeded random subset (or all) of the photos under ``data``, in a stable order."""
    paths = D.list_images(data)
    if not paths:
        raise FileNotFoundError(f"no images found under {data}")
    if max_images and max_images < len(paths):
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(len(paths), size=max_images, replace=False))
        paths = [paths[i] for i in idx]
    return paths


def load_pixels(paths: list[Path], size: int) -> np.ndarray:
    """Decode photos the way the app does (core decode when available)."""
    try:
        from photosort.core.decode import load_for_model
    except ImportError:  # pragma: no cover - training without the core
        load_for_model = None
    out = np.empty((len(paths), size, size, 3), np.uint8)
    for i, p in enumerate(paths):
        out[i] = (
            load_for_model(p, (size, size), "squash")
            if load_for_model
            else D.load_image(p, (size, size))
        )
    return out


def extract_pooled(
    backbone_name: str,
    paths: list[Path],
    cache_dir: Path,
    threads: int = 2,
    batch_size: int = 32,
    input_size: int | None = None,
    weights: Path | None = None,
) -> np.ndarray:
    """L2-normalised average-pooled features [N, 1280] of ``paths`` (cached on disk).

    ``input_size`` is the side the photos are resized to (default: the backbone's native one);
    ``weights`` replaces the ImageNet weights (a distilled backbone).
    """
    torch.set_num_threads(max(1, threads))
    size = input_size or BACKBONES[backbone_name][2]
    tag = [] if weights is None else [weights_tag(weights)]
    key = hashlib.sha1(
        "\n".join([backbone_name, str(size)] + tag + [str(p) for p in paths]).encode()
    ).hexdigest()[:16]
    cache = cache_dir / f"features-{backbone_name}-{key}.npy"
    if cache.exists():
        return np.load(cache)
    # Through onnxruntime: several times faster than eager PyTorch on a small CPU.
    import tempfile

    import onnxruntime as ort

    class _Pooled(nn.Module):
        def __init__(self, enc: ContentEncoder):
            super().__init__()
            self.enc = enc

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.enc.pooled(x)

    enc = ContentEncoder(load_backbone(backbone_name, size, weights), np.zeros(1280), np.eye(1280))
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    with tempfile.TemporaryDirectory() as tmpdir:
        onnx_path = Path(tmpdir) / "pooled.onnx"
        export_onnx(_Pooled(enc.eval()), torch.zeros(2, 3, size, size), onnx_path)
        sess = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    mean = np.asarray(TF_LITE_MEAN, np.float32).reshape(1, 3, 1, 1)
    std = np.asarray(TF_LITE_STD, np.float32).reshape(1, 3, 1, 1)
    out = np.empty((len(paths), 1280), np.float32)
    bar = ProgressBar(len(paths), f"features {backbone_name}")
    for s in range(0, len(paths), batch_size):
        chunk = paths[s : s + batch_size]
        x = load_pixels(chunk, size).transpose(0, 3, 1, 2).astype(np.float32) / 255.0
        out[s : s + len(chunk)] = sess.run(None, {name: (x - mean) / std})[0]
        bar.update(len(chunk))
    bar.close()
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp.npy")
    np.save(tmp, out)
    tmp.replace(cache)
    return out


@dataclass(frozen=True)
class Distillation:
    """How to make a backbone fed ``input_size`` px work like at its own size (see distill.py):
    ``epochs`` of fine-tuning (0: plain ImageNet weights) on ``images`` photos (a seeded
    sample), imitating ``teacher`` (default: the same backbone) at its native size."""

    epochs: int = 0
    images: int | None = 6000
    teacher: str | None = None


def small_input_weights(
    data: str,
    backbone: str,
    size: int,
    checkpoint_dir: Path,
    distill: Distillation,
    seed: int,
    threads: int,
    log=print,
) -> Path | None:
    """Distilled weights for ``backbone`` at ``size`` px, or None to keep the ImageNet ones
    (no epochs asked, or ``size`` not below the native input). All Lite backbones give 1280
    features, so a larger one can teach Lite0."""
    native = BACKBONES[backbone][2]
    if distill.epochs <= 0 or size >= native:
        return None
    from .distill import distill_backbone

    teacher = distill.teacher or backbone
    paths = sample_paths(data, distill.images, seed + 3)
    targets = extract_pooled(teacher, paths, checkpoint_dir / "cache", threads)
    # Which photos (not only how many) decide the weights: the digest keeps two data sets, or
    # two samples of one, from sharing a checkpoint folder.
    digest = hashlib.sha1("\n".join(str(p) for p in paths).encode()).hexdigest()[:8]
    name = f"distill-{len(paths)}-{distill.epochs}-{seed}-{digest}"
    run = checkpoint_dir / (name if teacher == backbone else f"{name}-from-{teacher}")
    return distill_backbone(
        paths,
        targets,
        backbone,
        size,
        run,
        epochs=distill.epochs,
        seed=seed,
        threads=threads,
        log=log,
    )


def backbone_features(
    data: str,
    backbone: str,
    input_size: int | None,
    max_images: int | None,
    seed: int,
    checkpoint_dir: Path,
    distill: Distillation,
    threads: int,
    log=print,
) -> tuple[list[Path], int, Path | None, np.ndarray]:
    """The photos a content model is fitted on, the input side, the backbone weights (None:
    ImageNet) and the photos' pooled features -- what both content models start from."""
    paths = sample_paths(data, max_images, seed)
    size = input_size or BACKBONES[backbone][2]
    log(f"{backbone} at {size} px, {len(paths)} photos of {data}")
    weights = small_input_weights(data, backbone, size, checkpoint_dir, distill, seed, threads, log)
    feats = extract_pooled(
        backbone, paths, checkpoint_dir / "cache", threads, input_size=size, weights=weights
    )
    return paths, size, weights, feats


def build_content_encoder(
    data: str,
    out: str,
    backbone: str = "lite0",
    latent_size: int = 128,
    checkpoint_dir: str | Path = "~/.cache/photosort-train",
    threads: int = 2,
    max_images: int | None = 4000,
    seed: int = 0,
    whitening: str = "class",
    input_size: int | None = None,
    distill: Distillation = Distillation(),
    name: str | None = None,
    description: str | None = None,
    log=print,
) -> dict:
    """Fit the projection on photos of ``data`` and export the content encoder (no decoder)."""
    ckdir = Path(checkpoint_dir).expanduser()
    paths, size, weights, feats = backbone_features(
        data, backbone, input_size, max_images, seed, ckdir, distill, threads, log
    )
    mean, proj = fit_pca(feats, latent_size)
    labels = [p.parent.name for p in paths]
    if whitening == "class" and len(set(labels)) > 1:
        log(f"whitening learnt from {len(set(labels))} classes (sub-folders) of {data}")
        proj = fit_class_whitening(feats, labels, mean, proj)
    model = ContentEncoder(load_backbone(backbone, size, weights), mean, proj).eval()
    enc_path, _ = onnx_paths(out)
    export_onnx(model, torch.zeros(2, 3, size, size), enc_path, "image", "latent")
    compress_fp16_weights(enc_path)
    n = backbone[-1]
    manifest = write_manifest(
        out,
        name=name or CONTENT_NAME.format(n=n),
        description=description or CONTENT_DESCRIPTION,
        input_size=(size, size),
        latent_size=latent_size,
        has_decoder=False,
        mean=TF_LITE_MEAN,
        std=TF_LITE_STD,
    )
    log(f"exported {enc_path} and {manifest}")
    return {"encoder": str(enc_path), "manifest": str(manifest)}


class FeatureVAE(nn.Module):
    """VAE over the content encoder's projected features, with an optional pixel branch.

    The latent is ``[content part | pixel part]``. The content part is encoded from the
    (precomputed) content features and must rebuild them; the pixel part (``pixel_latent``
    floats, 0 to disable) is encoded from a 64x64 thumbnail by a small conv net. The image
    decoder sees both, so the model sorts mostly by what the photo shows and then by colour
    and composition, and it can redraw the photo.
    """

    def __init__(
        self, in_features: int, latent_size: int = 64, image_size: int = 64, pixel_latent: int = 0
    ):
        super().__init__()
        self.latent_size = latent_size
        self.pixel_latent = pixel_latent
        self.content_latent = latent_size - pixel_latent
        self.image_size = image_size
        hidden = 256
        self.enc = nn.Sequential(
            nn.Linear(in_features, hidden), nn.GELU(), nn.Linear(hidden, 2 * self.content_latent)
        )
        self.pix_enc = ConvEncoder(image_size, 2 * pixel_latent) if pixel_latent else None
        self.feat_dec = nn.Sequential(
            nn.Linear(self.content_latent, hidden), nn.GELU(), nn.Linear(hidden, in_features)
        )
        self.decoder = ConvDecoder(image_size, latent_size)

    def posterior(
        self, f: torch.Tensor, x: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) from features ``f`` and, with a pixel branch, thumbnails ``x`` in [-1, 1]."""
        mu, logvar = self.enc(f).chunk(2, dim=1)
        if self.pix_enc is not None:
            if x is None:
                raise ValueError("this model needs the thumbnail too")
            mp, lp = self.pix_enc(x).chunk(2, dim=1)
            mu, logvar = torch.cat([mu, mp], 1), torch.cat([logvar, lp], 1)
        return mu, logvar.clamp(-10.0, 10.0)

    def forward(self, f: torch.Tensor, x: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        mu, logvar = self.posterior(f, x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        feat = self.feat_dec(z[:, : self.content_latent])
        return {"mu": mu, "logvar": logvar, "feat": feat, "recon": self.decoder(z)}


class ContentVAEEncoder(nn.Module):
    """Export wrapper: pixels -> (content features, thumbnail) -> ``mu``."""

    def __init__(self, content: ContentEncoder, vae: FeatureVAE, scale: float):
        super().__init__()
        self.content, self.vae, self.scale = content, vae, scale
        mean = torch.tensor(TF_LITE_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(TF_LITE_STD).view(1, 3, 1, 1)
        self.register_buffer("in_mean", mean)
        self.register_buffer("in_std", std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        thumb = None
        if self.vae.pix_enc is not None:
            # Back to [0, 1], down to the thumbnail size, then the pixel models' [-1, 1].
            x01 = x * self.in_std + self.in_mean
            s = self.vae.image_size
            t = F.interpolate(F.avg_pool2d(x01, 2), size=(s, s), mode="bilinear")
            thumb = (t - 0.5) / 0.5
        mu, _ = self.vae.posterior(self.content(x) * self.scale, thumb)
        return mu


def train_content_vae(
    data: str,
    out: str,
    backbone: str = "lite0",
    latent_size: int = 64,
    epochs: int = 30,
    batch_size: int = 64,
    lr: float = 2e-3,
    image_size: int = 64,
    loss: str = "mse",
    seed: int = 0,
    checkpoint_dir: str | Path = "~/.cache/photosort-train",
    docs_dir: str | None = None,
    threads: int = 2,
    max_images: int | None = 4000,
    resume: bool = False,
    pca_size: int = 128,
    whitening: str = "class",
    pixel_latent: int = 16,
    input_size: int | None = None,
    distill: Distillation = Distillation(),
    feature_weight: float = 1.0,
    kl_weight: float = 0.02,
    name: str | None = None,
    description: str | None = None,
    log=print,
) -> dict:
    """Train the content VAE on precomputed features + pixels, then export it."""
    from .trainer import (
        _save_checkpoint,
        _StopFlag,
        reconstruction_loss,
        restore_checkpoint,
        warmup_cosine,
    )

    torch.set_num_threads(max(1, threads))
    torch.manual_seed(seed)
    ckdir = Path(checkpoint_dir).expanduser()
    model_id = Path(out).name
    ckpt_path = ckdir / model_id / "last.pt"
    paths, size, weights, feats = backbone_features(
        data, backbone, input_size, max_images, seed, ckdir, distill, threads, log
    )
    mean, proj = fit_pca(feats, pca_size)
    labels = [p.parent.name for p in paths]
    if whitening == "class" and len(set(labels)) > 1:
        proj = fit_class_whitening(feats, labels, mean, proj)
    unit = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    z_in = (unit - mean) @ proj
    scale = float(1.0 / np.sqrt((z_in**2).sum(1).mean()) * np.sqrt(pca_size))  # unit variance
    targets = torch.from_numpy((z_in * scale).astype(np.float32))
    pixels = load_pixels(paths, image_size)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(paths))
    n_val = max(1, len(paths) // 50)
    val_idx, train_idx = np.sort(order[:n_val]), order[n_val:]

    vae = FeatureVAE(pca_size, latent_size, image_size, pixel_latent)
    opt = torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=1e-5)
    steps = int(np.ceil(len(train_idx) / batch_size))
    sched = warmup_cosine(opt, epochs * steps)
    history: dict[str, list[float]] = {"pixels": [], "features": [], "val_pixels": []}
    start = 0
    if resume and ckpt_path.exists():
        state = restore_checkpoint(ckpt_path, vae, opt, sched, log)
        history, start = state["history"], state["epoch"]
    d_pix = 3 * image_size * image_size

    def checkpoint(epoch: int) -> None:
        _save_checkpoint(
            ckpt_path,
            {
                "model": vae.state_dict(),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "history": history,
                "epoch": epoch,
                "mean": mean,
                "proj": proj,
                "scale": scale,
            },
        )

    interrupted = False
    with _StopFlag() as flag:
        for epoch in range(start, epochs):
            vae.train()
            erng = np.random.default_rng(seed * 1000 + epoch)
            bar = ProgressBar(steps, f"epoch {epoch + 1}/{epochs}")
            tp = tf = 0.0
            cnt = 0
            t0 = time.monotonic()
            for idx in D.batches(len(train_idx), batch_size, erng):
                ii = train_idx[idx]
                x = D.to_tensor(pixels[ii])
                # No augmentation: the features were computed once per photo, unaugmented, and
                # the decoder must redraw the photo those features came from.
                o = vae(targets[ii], D.normalize(x))
                rec_pix = reconstruction_loss(o["recon"], x, loss)
                rec_feat = F.mse_loss(o["feat"], targets[ii])
                kl = 0.5 * (o["mu"].pow(2) + o["logvar"].exp() - 1 - o["logvar"]).sum(1).mean()
                total = rec_pix + feature_weight * rec_feat + kl_weight * kl / d_pix
                opt.zero_grad(set_to_none=True)
                total.backward()
                opt.step()
                sched.step()
                tp += float(rec_pix.detach()) * len(ii)
                tf += float(rec_feat.detach()) * len(ii)
                cnt += len(ii)
                bar.update(1, pix=float(rec_pix.detach()), feat=float(rec_feat.detach()))
                if flag.stop:
                    break
            bar.close()
            if flag.stop:
                checkpoint(epoch)
                log(f"interrupted: checkpoint saved to {ckpt_path}; rerun with --resume")
                interrupted = True
                break
            vae.eval()
            with torch.no_grad():
                o = vae(targets[val_idx], D.normalize(D.to_tensor(pixels[val_idx])))
                vp = float(reconstruction_loss(o["recon"], D.to_tensor(pixels[val_idx]), loss))
            history["pixels"].append(tp / cnt)
            history["features"].append(tf / cnt)
            history["val_pixels"].append(vp)
            checkpoint(epoch + 1)
            log(
                f"epoch {epoch + 1}: pixels {tp / cnt:.5f} features {tf / cnt:.4f} "
                f"val pixels {vp:.5f} ({time.monotonic() - t0:.0f}s)"
            )
    if interrupted:
        return {"interrupted": True, "checkpoint": str(ckpt_path)}

    vae.eval()
    content = ContentEncoder(load_backbone(backbone, size, weights), mean, proj).eval()
    enc_path, dec_path = onnx_paths(out)
    export_onnx(
        ContentVAEEncoder(content, vae, scale),
        torch.zeros(2, 3, size, size),
        enc_path,
        "image",
        "latent",
    )
    compress_fp16_weights(enc_path)
    export_onnx(vae.decoder, torch.zeros(2, latent_size), dec_path, "latent", "image")
    manifest = write_manifest(
        out,
        name=name or (CONTENT_PIXEL_VAE_NAME if pixel_latent else CONTENT_VAE_NAME),
        description=description
        or (CONTENT_PIXEL_VAE_DESCRIPTION if pixel_latent else CONTENT_VAE_DESCRIPTION),
        input_size=(size, size),
        latent_size=latent_size,
        has_decoder=True,
        mean=TF_LITE_MEAN,
        std=TF_LITE_STD,
        extra={"decoder_output_size": [image_size, image_size]},
    )
    log(f"exported {enc_path}, {dec_path} and {manifest}")
    if docs_dir:
        docs = Path(docs_dir)
        docs.mkdir(parents=True, exist_ok=True)
        loss_curve_png(
            docs / f"{model_id}-loss.png",
            {
                "pixels (train)": history["pixels"],
                "pixels (validation)": history["val_pixels"],
                "features (train)": history["features"],
            },
            title=f"{model_id}: reconstruction losses per epoch",
        )
        with torch.no_grad():
            x8 = D.normalize(D.to_tensor(pixels[val_idx[:8]]))
            rec = vae(targets[val_idx[:8]], x8)["recon"]
        rec_u8 = (rec.clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8)
        recon_grid_png(docs / f"{model_id}-reconstructions.png", pixels[val_idx[:8]], rec_u8)
        (docs / f"{model_id}-history.json").write_text(json.dumps(history, indent=1) + "\n")
    return {"encoder": str(enc_path), "decoder": str(dec_path), "manifest": str(manifest)}
