"""Resolution distillation: a backbone at a small input taught to see what it sees at its own.

Indexing speed is bounded by the encoder's cost, which grows with the input's area: Lite0 at
160 px costs half as much CPU as at 224 px, but its pooled features rank photos worse (0.697 vs
0.716 mAP on scenes-test with the same projection), because ImageNet training showed it objects
at the 224-px scale. Here the upper blocks of the small-input network are fine-tuned so that its
pooled features match the native-size network's on the same photos (cosine loss). No labels are
used, so the features stay as general as the ImageNet ones they imitate.

The lower blocks stay frozen: their outputs are computed once per photo and kept in memory
(float16), so an epoch only runs the upper blocks forwards and backwards. Checkpointed every
epoch and on SIGTERM/Ctrl-C; ``resume=True`` continues from the last one.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from .backbones import BACKBONES, TF_LITE_MEAN, TF_LITE_STD, load_backbone
from .progress import ProgressBar


def _lower(model: torch.nn.Module, x: torch.Tensor, frozen_blocks: int) -> torch.Tensor:
    """Stem and the first ``frozen_blocks`` blocks (EfficientNet's extract_features, cut)."""
    x = model._swish(model._bn0(model._conv_stem(x)))
    for block in model._blocks[:frozen_blocks]:
        x = block(x, drop_connect_rate=None)
    return x


def _upper_pooled(model: torch.nn.Module, x: torch.Tensor, frozen_blocks: int) -> torch.Tensor:
    """The remaining blocks and the head, average-pooled and L2-normalised (ContentEncoder's)."""
    for block in model._blocks[frozen_blocks:]:
        x = block(x, drop_connect_rate=None)
    x = model._swish(model._bn1(model._conv_head(x)))
    return F.normalize(x.mean(dim=(2, 3)), dim=1)


def lower_activations(
    model: torch.nn.Module,
    paths: list[Path],
    size: int,
    frozen_blocks: int,
    batch_size: int = 64,
) -> np.ndarray:
    """float16 outputs of the frozen lower blocks for every photo, at ``size`` px."""
    from .content import load_pixels

    mean = torch.tensor(TF_LITE_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(TF_LITE_STD).view(1, 3, 1, 1)
    out: np.ndarray | None = None
    bar = ProgressBar(len(paths), "frozen blocks")
    with torch.no_grad():
        for s in range(0, len(paths), batch_size):
            chunk = paths[s : s + batch_size]
            x = torch.from_numpy(load_pixels(chunk, size).transpose(0, 3, 1, 2).copy())
            a = _lower(model, (x.float() / 255.0 - mean) / std, frozen_blocks)
            if out is None:
                out = np.empty((len(paths), *a.shape[1:]), np.float16)
            out[s : s + len(chunk)] = a.numpy().astype(np.float16)
            bar.update(len(chunk))
    bar.close()
    assert out is not None
    return out


def weights_tag(path: str | Path | None) -> str:
    """A short digest of a weights file, for cache keys (features depend on the weights)."""
    if path is None:
        return "imagenet"
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()[:12]


def distill_backbone(
    paths: list[Path],
    teacher_features: np.ndarray,
    backbone: str,
    input_size: int,
    checkpoint_dir: Path,
    epochs: int = 2,
    batch_size: int = 32,
    lr: float = 1e-4,
    frozen_blocks: int = 5,
    seed: int = 0,
    threads: int = 2,
    resume: bool = True,
    log=print,
) -> Path:
    """Fine-tune ``backbone`` at ``input_size`` px towards ``teacher_features`` (L2-normalised
    pooled features of the same ``paths`` at the native size); returns the weights file."""
    from .trainer import (
        TrainingInterrupted,
        _save_checkpoint,
        _StopFlag,
        restore_checkpoint,
        warmup_cosine,
    )

    torch.set_num_threads(max(1, threads))
    torch.manual_seed(seed)
    native = BACKBONES[backbone][2]
    work = checkpoint_dir / f"distill-{backbone}-{input_size}"
    weights = work / "student.pt"
    last = work / "last.pt"
    if weights.exists():
        log(f"distilled weights already there: {weights}")
        return weights
    model = load_backbone(backbone, input_size)
    # BatchNorm keeps its ImageNet statistics (re-estimating them at 160 px cost 0.15 mAP):
    # eval mode throughout, only the weights of the upper blocks move.
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    params = [p for b in model._blocks[frozen_blocks:] for p in b.parameters()]
    params += list(model._conv_head.parameters()) + list(model._bn1.parameters())
    for p in params:
        p.requires_grad_(True)
    log(
        f"distilling into {backbone} at {input_size} px (native {native}) on {len(paths)} photos, "
        f"blocks {frozen_blocks}-{len(model._blocks) - 1} and the head trained"
    )
    lower = lower_activations(model, paths, input_size, frozen_blocks)
    target = torch.from_numpy(np.ascontiguousarray(teacher_features, dtype=np.float32))
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-5)
    steps = int(np.ceil(len(paths) / batch_size))
    sched = warmup_cosine(opt, epochs * steps)
    start = 0
    history: list[float] = []
    if resume and last.exists():
        state = restore_checkpoint(last, model, opt, sched, log)
        start, history = state["epoch"], state["history"]

    def cosine_to_teacher(idx: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(lower[idx].astype(np.float32))
        return (_upper_pooled(model, x, frozen_blocks) * target[idx]).sum(1)

    with _StopFlag() as flag:
        for epoch in range(start, epochs):
            rng = np.random.default_rng(seed * 1000 + epoch)
            order = rng.permutation(len(paths))
            bar = ProgressBar(steps, f"distill epoch {epoch + 1}/{epochs}")
            total, t0 = 0.0, time.monotonic()
            for s in range(0, len(order), batch_size):
                idx = np.sort(order[s : s + batch_size])
                loss = (1.0 - cosine_to_teacher(idx)).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach()) * len(idx)
                bar.update(1, loss=float(loss.detach()))
                if flag.stop:
                    break
            bar.close()
            state = {"model": model.state_dict(), "optimizer": opt.state_dict()}
            state |= {"scheduler": sched.state_dict(), "history": history}
            if flag.stop:
                _save_checkpoint(last, state | {"epoch": epoch})
                log(f"interrupted: checkpoint saved to {last}; rerun the command to continue")
                raise TrainingInterrupted(str(last))
            history.append(total / len(order))
            _save_checkpoint(last, state | {"epoch": epoch + 1, "history": history})
            log(
                f"distill epoch {epoch + 1}: 1 - cosine to the teacher's features "
                f"{history[-1]:.4f} ({time.monotonic() - t0:.0f}s)"
            )
    with torch.no_grad():
        probe = np.arange(min(256, len(paths)))
        log(
            f"mean cosine to the teacher on {len(probe)} photos: {float(cosine_to_teacher(probe).mean()):.4f}"
        )
    work.mkdir(parents=True, exist_ok=True)
    tmp = weights.with_suffix(".tmp")
    torch.save(model.state_dict(), tmp)
    tmp.replace(weights)
    return weights
