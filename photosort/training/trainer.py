"""Training loop for the pixel autoencoders (AE with MSE or MAE loss, VAE), resumable.

A checkpoint (model, optimiser, epoch, loss history, RNG state) is written atomically after
every epoch and when the process receives SIGTERM/SIGINT, to ``<checkpoint_dir>/<id>/last.pt``.
``resume=True`` continues from it. After the last epoch the encoder and decoder are exported to
ONNX next to a manifest, and a loss-curve PNG and a reconstruction grid go to ``docs_dir``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from . import data as D
from .export import export_onnx, onnx_paths, write_manifest
from .models import DecoderExport, EncoderExport, build_model
from .plots import loss_curve_png, recon_grid_png
from .progress import ProgressBar

DEFAULT_CHECKPOINT_DIR = Path(
    os.environ.get("PHOTOSORT_TRAIN_CACHE", Path.home() / ".cache" / "photosort-train")
)

DESCRIPTIONS = {
    ("ae", "mse"): (
        "Autoencoder (MSE)",
        "Soft tones: colour and layout, smooth shading (autoencoder)",
    ),
    ("ae", "mae"): (
        "Autoencoder (MAE)",
        "Sharp edges: colour and layout, with crisp outlines (autoencoder)",
    ),
    ("vae", "mse"): (
        "Variational autoencoder",
        "Colour mood: colour and layout, smoothly grouped (variational autoencoder)",
    ),
    ("vae", "mae"): (
        "Variational autoencoder (MAE)",
        "Colour mood, sharper: colour and layout (variational autoencoder)",
    ),
}


@dataclass
class TrainConfig:
    """Everything that defines a training run (stored in the checkpoint)."""

    data: str
    out: str
    arch: str = "ae"
    loss: str = "mse"
    epochs: int = 20
    batch_size: int = 64
    lr: float = 2e-3
    latent_size: int = 64
    image_size: int = 64
    kl_weight: float = 0.02
    seed: int = 0
    threads: int = 2
    val_fraction: float = 0.02
    max_images: int | None = None
    checkpoint_dir: str = str(DEFAULT_CHECKPOINT_DIR)
    docs_dir: str | None = None
    name: str | None = None
    description: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def model_id(self) -> str:
        return Path(self.out).name

    @property
    def run_dir(self) -> Path:
        return Path(self.checkpoint_dir) / self.model_id


class TrainingInterrupted(Exception):
    """A run stopped by SIGTERM/Ctrl-C after saving its checkpoint (the command exits 3)."""


class _StopFlag:
    """Set by SIGTERM/SIGINT so the loop can checkpoint before exiting."""

    def __init__(self) -> None:
        self.stop = False
        self._old: dict[int, object] = {}

    def __enter__(self) -> _StopFlag:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(ValueError):  # not in the main thread
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:  # noqa: ARG002
        self.stop = True

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def reconstruction_loss(recon: torch.Tensor, target: torch.Tensor, loss: str) -> torch.Tensor:
    if loss == "mse":
        return F.mse_loss(recon, target)
    if loss == "mae":
        return F.l1_loss(recon, target)
    raise ValueError(f"unknown loss {loss!r} (expected 'mse' or 'mae')")


def compute_loss(
    model: torch.nn.Module, x01: torch.Tensor, cfg: TrainConfig, kl_scale: float = 1.0
) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss on a [0, 1] batch. For the VAE: recon + kl_weight * KL / (pixels*3).

    With an MSE reconstruction term this is the Gaussian ELBO with pixel variance kl_weight / 2,
    rescaled per value; kl_weight trades sharpness against a smooth latent space.
    """
    out = model(D.normalize(x01))
    rec = reconstruction_loss(out["recon"], x01, cfg.loss)
    parts = {"rec": float(rec.detach())}
    total = rec
    if "mu" in out:
        mu, logvar = out["mu"], out["logvar"]
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(dim=1).mean()
        total = rec + kl_scale * cfg.kl_weight * kl / x01[0].numel()
        parts["kl"] = float(kl.detach())
    return total, parts


def warmup_cosine(opt: torch.optim.Optimizer, total_steps: int, warmup: float = 0.05):
    """Linear warm-up over the first 5 % of steps, then cosine decay to 2 % of the peak rate."""
    import math

    n_warm = max(1, int(total_steps * warmup))

    def factor(step: int) -> float:
        if step < n_warm:
            return (step + 1) / n_warm
        t = min(1.0, (step - n_warm) / max(1, total_steps - n_warm))
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t))

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


def _save_checkpoint(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def restore_checkpoint(
    path: Path,
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    log=print,
    check=None,
) -> dict:
    """Load a checkpoint written by `_save_checkpoint` into model, optimizer and schedule, and
    return the whole state (its "epoch" and "history" say where training resumes). `check`,
    if given, sees the state first and may raise to refuse it."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    if check is not None:
        check(state)
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    log(f"resumed from {path} at epoch {state['epoch']}")
    return state


def train(cfg: TrainConfig, resume: bool = False, log=print) -> dict:
    """Train (or continue) a pixel model and export it. Returns a summary dict."""
    torch.set_num_threads(max(1, cfg.threads))
    torch.manual_seed(cfg.seed)
    size = (cfg.image_size, cfg.image_size)
    run_dir = cfg.run_dir
    ckpt_path = run_dir / "last.pt"

    log(f"loading photos from {cfg.data} ...")
    bar: ProgressBar | None = None

    def _prog(i: int, n: int) -> None:
        nonlocal bar
        if bar is None:
            bar = ProgressBar(n, "decode")
        bar.update(1)

    ds = D.load_folder(cfg.data, size, cache_dir=Path(cfg.checkpoint_dir) / "cache", progress=_prog)
    if bar is not None:
        bar.close()
    images = ds.images
    rng = np.random.default_rng(cfg.seed)
    order = rng.permutation(len(images))
    if cfg.max_images:
        order = order[: cfg.max_images]
    n_val = max(1, int(round(len(order) * cfg.val_fraction))) if len(order) > 8 else 1
    val_idx, train_idx = np.sort(order[:n_val]), order[n_val:]
    if len(train_idx) == 0:
        train_idx = val_idx
    log(f"{len(train_idx)} training photos, {len(val_idx)} held out for the validation loss")

    model = build_model(cfg.arch, cfg.image_size, cfg.latent_size)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-5)
    steps_per_epoch = int(np.ceil(len(train_idx) / cfg.batch_size))
    sched = warmup_cosine(opt, cfg.epochs * steps_per_epoch)
    history: dict[str, list[float]] = {"train": [], "val": []}
    start_epoch = 0
    if resume and ckpt_path.exists():

        def same_run(state: dict) -> None:
            config = state["config"]
            if config["arch"] != cfg.arch or config["loss"] != cfg.loss:
                raise ValueError(
                    f"checkpoint {ckpt_path} was made with another arch/loss; "
                    "use the same options or another --out"
                )
            if config["epochs"] != cfg.epochs:
                log(f"note: epochs changed {config['epochs']} -> {cfg.epochs}")

        state = restore_checkpoint(ckpt_path, model, opt, sched, log, check=same_run)
        history = state["history"]
        start_epoch = state["epoch"]
        torch.set_rng_state(state["torch_rng"])
    elif ckpt_path.exists() and not resume:
        log(f"note: overwriting the checkpoint in {run_dir} (use --resume to continue it)")

    gen = torch.Generator().manual_seed(cfg.seed + start_epoch)

    def checkpoint(epoch: int) -> None:
        _save_checkpoint(
            ckpt_path,
            {
                "config": asdict(cfg),
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "history": history,
                "epoch": epoch,
                "torch_rng": torch.get_rng_state(),
            },
        )

    interrupted = False
    with _StopFlag() as flag:
        for epoch in range(start_epoch, cfg.epochs):
            model.train()
            erng = np.random.default_rng(cfg.seed * 1000 + epoch)
            bar = ProgressBar(steps_per_epoch, f"epoch {epoch + 1}/{cfg.epochs}")
            tot, cnt = 0.0, 0
            kl_scale = min(1.0, (epoch + 1) / 2)  # KL warm-up over the first epochs
            t0 = time.monotonic()
            for idx in D.batches(len(train_idx), cfg.batch_size, erng):
                x = D.augment(D.to_tensor(images[train_idx[idx]]), gen)
                loss, parts = compute_loss(model, x, cfg, kl_scale)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                tot += parts["rec"] * len(idx)
                cnt += len(idx)
                bar.update(1, **parts)
                if flag.stop:
                    break
            bar.close()
            if flag.stop:
                # Keep the weights; the interrupted epoch is redone on --resume.
                checkpoint(epoch)
                log(f"interrupted: checkpoint saved to {ckpt_path}; rerun with --resume")
                interrupted = True
                break
            history["train"].append(tot / max(1, cnt))
            history["val"].append(evaluate_loss(model, images[val_idx], cfg))
            checkpoint(epoch + 1)
            log(
                f"epoch {epoch + 1}: train {history['train'][-1]:.5f} "
                f"val {history['val'][-1]:.5f} ({time.monotonic() - t0:.0f}s)"
            )
    summary = {"history": history, "checkpoint": str(ckpt_path), "interrupted": interrupted}
    if interrupted:
        return summary
    summary.update(finish(model, images[val_idx], cfg, history, log))
    return summary


@torch.no_grad()
def evaluate_loss(model: torch.nn.Module, images: np.ndarray, cfg: TrainConfig) -> float:
    """Mean reconstruction loss (no augmentation, latent = mean) on held-out photos."""
    model.eval()
    tot = 0.0
    for idx in D.batches(len(images), 256):
        x = D.to_tensor(images[idx])
        out = model(D.normalize(x))
        tot += float(reconstruction_loss(out["recon"], x, cfg.loss)) * len(idx)
    return tot / len(images)


def finish(
    model: torch.nn.Module,
    val_images: np.ndarray,
    cfg: TrainConfig,
    history: dict[str, list[float]],
    log=print,
) -> dict:
    """Export ONNX + manifest, and write the loss curve and reconstruction grid."""
    model.eval()
    enc_path, dec_path = onnx_paths(cfg.out)
    example = torch.zeros(2, 3, cfg.image_size, cfg.image_size)
    export_onnx(EncoderExport(model), example, enc_path, "image", "latent")
    export_onnx(DecoderExport(model), torch.zeros(2, cfg.latent_size), dec_path, "latent", "image")
    name, desc = DESCRIPTIONS.get((cfg.arch, cfg.loss), (cfg.model_id, "Colour and layout"))
    manifest = write_manifest(
        cfg.out,
        name=cfg.name or name,
        description=cfg.description or desc,
        input_size=(cfg.image_size, cfg.image_size),
        latent_size=cfg.latent_size,
        has_decoder=True,
        extra=cfg.extra or None,
    )
    log(f"exported {enc_path}, {dec_path} and {manifest}")
    docs = Path(cfg.docs_dir) if cfg.docs_dir else None
    if docs is not None:
        docs.mkdir(parents=True, exist_ok=True)
        loss_curve_png(
            docs / f"{cfg.model_id}-loss.png",
            {"train": history["train"], "validation": history["val"]},
            title=f"{cfg.model_id}: reconstruction loss ({cfg.loss}) per epoch",
        )
        sample = val_images[:8]
        with torch.no_grad():
            rec = model(D.normalize(D.to_tensor(sample)))["recon"]
        rec_u8 = (rec.clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8)
        recon_grid_png(docs / f"{cfg.model_id}-reconstructions.png", sample, rec_u8)
        (docs / f"{cfg.model_id}-history.json").write_text(json.dumps(history, indent=1) + "\n")
        log(f"wrote loss curve and reconstruction grid to {docs}")
    return {"encoder": str(enc_path), "decoder": str(dec_path), "manifest": str(manifest)}


def main(argv: list[str] | None = None) -> int:
    """``python -m photosort.training.trainer`` mirrors ``photosort train`` for pixel models."""
    import argparse

    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--arch", default="ae")
    p.add_argument("--loss", default="mse")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--resume", action="store_true")
    a = p.parse_args(argv)
    cfg = TrainConfig(data=a.data, out=a.out, arch=a.arch, loss=a.loss, epochs=a.epochs)
    train(cfg, resume=a.resume)
    return 0


if __name__ == "__main__":
    sys.exit(main())
