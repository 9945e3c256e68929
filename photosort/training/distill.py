"""Resolution distillation: a backbone at a small input taught to see what it sees at its own.

Indexing speed is bounded by the encoder's cost, which grows with the input's area: Lite0 at
160 px costs half as much CPU as at 224 px, but its pooled features rank photos worse (0.697 vs
0.716 mAP on scenes-test with the same projection), because ImageNet training showed it objects
at the 224-px scale. Here the upper blocks of the small-input network are fine-tuned so that its
pooled features match the native-size network's on the same photos (cosine loss). No labels are
used, so the features stay as general as the ImageNet ones they imitate.

What is imitated is what the encoder built on the backbone reads: the whole map's average
pooling always; for the general encoder (``general.py``) also the poolings of the map's four
quarters (its regional "looks"), and the pooled vector's length, since the ImageNet classifier
it reads sees the raw pooled features, not only their direction.

The lower blocks stay frozen: their outputs are computed once per photo and kept in memory
(float16), so an epoch only runs the upper blocks forwards and backwards. Checkpointed every
epoch and on SIGTERM/Ctrl-C; ``resume=True`` continues from the last one.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from .backbones import BACKBONES, TF_LITE_MEAN, TF_LITE_STD, load_backbone
from .features import quarter_poolings
from .progress import ProgressBar


def _lower(model: torch.nn.Module, x: torch.Tensor, frozen_blocks: int) -> torch.Tensor:
    """Stem and the first ``frozen_blocks`` blocks (EfficientNet's extract_features, cut)."""
    x = model._swish(model._bn0(model._conv_stem(x)))
    for block in model._blocks[:frozen_blocks]:
        x = block(x, drop_connect_rate=None)
    return x


def _upper_map(model: torch.nn.Module, x: torch.Tensor, frozen_blocks: int) -> torch.Tensor:
    """The remaining blocks and the head: the last feature map [N, 1280, H, W]."""
    for block in model._blocks[frozen_blocks:]:
        x = block(x, drop_connect_rate=None)
    return model._swish(model._bn1(model._conv_head(x)))


def distillation_loss(
    fmap: torch.Tensor,
    teacher_pooled: torch.Tensor,
    teacher_quarters: torch.Tensor | None = None,
    length_weight: float = 0.0,
) -> torch.Tensor:
    """Per-photo loss [N] of the student's last feature map against the teacher's poolings.

    ``1 - cosine`` of the whole map's average pooling to ``teacher_pooled`` [N, C]; plus, with
    ``teacher_quarters`` [N, 4, C], the same for each of the four quarters' poolings
    (:func:`~photosort.training.features.quarter_poolings`, taken on the student's own map, so
    a 5x5 map's 3x3 quarters stand for a 7x7 map's 4x4 ones); plus ``length_weight`` times the
    squared relative error of the pooled vector's length.
    """
    pooled = fmap.mean(dim=(2, 3))
    loss = 1.0 - F.cosine_similarity(pooled, teacher_pooled, dim=1)
    if teacher_quarters is not None:
        for i, quarter in enumerate(quarter_poolings(fmap)):
            loss = loss + 1.0 - F.cosine_similarity(quarter, teacher_quarters[:, i], dim=1)
    if length_weight > 0:
        want = teacher_pooled.norm(dim=1).clamp(min=1e-6)
        loss = loss + length_weight * ((pooled.norm(dim=1) - want) / want) ** 2
    return loss


def lower_activations(
    model: torch.nn.Module,
    paths: list[Path],
    size: int,
    frozen_blocks: int,
    batch_size: int = 64,
    resize: str = "squash",
) -> np.ndarray:
    """float16 outputs of the frozen lower blocks for every photo, at ``size`` px, decoded and
    resized (``resize``: the manifest's mode) as the app gives them to the encoder."""
    from photosort.core.decode import load_for_model
    from photosort.core.errors import DecodeError

    def load(p: Path) -> np.ndarray:
        try:
            return load_for_model(p, (size, size), resize)
        except (DecodeError, OSError):  # unreadable: a black photo, as the teacher's zero row
            return np.zeros((size, size, 3), np.uint8)

    mean = torch.tensor(TF_LITE_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(TF_LITE_STD).view(1, 3, 1, 1)
    out: np.ndarray | None = None
    bar = ProgressBar(len(paths), "frozen blocks")
    with torch.no_grad():
        for s in range(0, len(paths), batch_size):
            chunk = paths[s : s + batch_size]
            pixels = np.stack([load(p) for p in chunk]).transpose(0, 3, 1, 2)
            x = torch.from_numpy(np.ascontiguousarray(pixels)).float()
            a = _lower(model, (x / 255.0 - mean) / std, frozen_blocks)
            if out is None:
                out = np.empty((len(paths), *a.shape[1:]), np.float16)
            out[s : s + len(chunk)] = a.numpy().astype(np.float16)
            bar.update(len(chunk))
    bar.close()
    assert out is not None
    return out


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
    teacher_quarters: np.ndarray | None = None,
    length_weight: float = 0.0,
    per_epoch: int | None = None,
    resize: str = "squash",
) -> Path:
    """Fine-tune ``backbone`` at ``input_size`` px towards the teacher's poolings of the same
    ``paths`` at the native size; returns the weights file.

    ``teacher_features`` [N, 1280]: the whole map's average pooling (its direction is imitated,
    and its length with ``length_weight`` > 0); ``teacher_quarters`` [N, 4, 1280], if given,
    the four quarters' (see :func:`distillation_loss`). Photos whose teacher row is all zeros
    (unreadable) are left out. ``per_epoch`` photos (a seeded sample, a new one every epoch)
    make an epoch, so a long run can stop at any epoch with a usable checkpoint. ``resize`` is
    how the photos are cut to a square, the same as for the teacher's features.
    """
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
    usable = np.flatnonzero(np.linalg.norm(teacher_features, axis=1) > 0)
    paths = [paths[i] for i in usable]
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
    quarters_said = "" if teacher_quarters is None else " and its four quarters'"
    log(
        f"distilling into {backbone} at {input_size} px (native {native}) on {len(paths)} photos, "
        f"blocks {frozen_blocks}-{len(model._blocks) - 1} and the head trained, towards the "
        f"teacher's pooling{quarters_said}"
    )
    lower = lower_activations(model, paths, input_size, frozen_blocks, resize=resize)
    target = torch.from_numpy(np.ascontiguousarray(teacher_features[usable], dtype=np.float32))
    target_q = None
    if teacher_quarters is not None:
        target_q = torch.from_numpy(
            np.ascontiguousarray(teacher_quarters[usable], dtype=np.float32)
        )
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-5)
    n_epoch = min(per_epoch or len(paths), len(paths))
    steps = int(np.ceil(n_epoch / batch_size))
    sched = warmup_cosine(opt, epochs * steps)
    start = 0
    history: list[float] = []
    if resume and last.exists():
        state = restore_checkpoint(last, model, opt, sched, log)
        start, history = state["epoch"], state["history"]

    def loss_of(idx: np.ndarray) -> torch.Tensor:
        fmap = _upper_map(model, torch.from_numpy(lower[idx].astype(np.float32)), frozen_blocks)
        quarters = None if target_q is None else target_q[idx]
        return distillation_loss(fmap, target[idx], quarters, length_weight)

    with _StopFlag() as flag:
        for epoch in range(start, epochs):
            rng = np.random.default_rng(seed * 1000 + epoch)
            order = rng.permutation(len(paths))[:n_epoch]
            bar = ProgressBar(steps, f"distill epoch {epoch + 1}/{epochs}")
            total, t0 = 0.0, time.monotonic()
            for s in range(0, len(order), batch_size):
                idx = np.sort(order[s : s + batch_size])
                loss = loss_of(idx).mean()
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
                f"distill epoch {epoch + 1}: loss to the teacher's poolings {history[-1]:.4f} "
                f"({time.monotonic() - t0:.0f}s)"
            )
    with torch.no_grad():
        probe = np.arange(min(256, len(paths)))
        log(f"loss to the teacher on {len(probe)} photos: {float(loss_of(probe).mean()):.4f}")
    work.mkdir(parents=True, exist_ok=True)
    tmp = weights.with_suffix(".tmp")
    torch.save(model.state_dict(), tmp)
    tmp.replace(weights)
    return weights
