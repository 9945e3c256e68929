"""Convolutional autoencoders trained on photos.

All models take NCHW float32 images normalised as (x/255 - 0.5) / 0.5 (range [-1, 1]) and
decode to RGB in [0, 1]. They are kept small on purpose: `models/` has a 40 MB budget shared by
every shipped encoder, and training must fit a 2-core CPU.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

#: Channel widths of the four stride-2 stages (64 -> 32 -> 16 -> 8 -> 4 pixels).
CHANNELS: tuple[int, ...] = (32, 64, 128, 128)


def _down(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.LeakyReLU(0.2, inplace=True),
    )


def _up(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.LeakyReLU(0.2, inplace=True),
    )


class ConvEncoder(nn.Module):
    """Image -> flat feature vector, four stride-2 conv stages then a linear layer."""

    def __init__(self, image_size: int, out_features: int, channels: tuple[int, ...] = CHANNELS):
        super().__init__()
        stages, cin = [], 3
        for c in channels:
            stages.append(_down(cin, c))
            cin = c
        self.features = nn.Sequential(*stages)
        side = image_size // 2 ** len(channels)
        self.fc = nn.Linear(cin * side * side, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.features(x), 1))


class ConvDecoder(nn.Module):
    """Latent -> RGB image in [0, 1]; mirror of :class:`ConvEncoder`."""

    def __init__(self, image_size: int, latent_size: int, channels: tuple[int, ...] = CHANNELS):
        super().__init__()
        rev = list(reversed(channels))
        self.side = image_size // 2 ** len(channels)
        self.c0 = rev[0]
        self.fc = nn.Linear(latent_size, rev[0] * self.side * self.side)
        stages = [_up(a, b) for a, b in zip(rev[:-1], rev[1:], strict=False)]
        self.stages = nn.Sequential(*stages)
        self.out = nn.ConvTranspose2d(rev[-1], 3, 4, stride=2, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.fc(z), 0.2).view(-1, self.c0, self.side, self.side)
        return torch.sigmoid(self.out(self.stages(h)))


class ConvAE(nn.Module):
    """Plain autoencoder; the latent is the encoder's linear output."""

    kind = "ae"

    def __init__(self, image_size: int = 64, latent_size: int = 64):
        super().__init__()
        self.image_size, self.latent_size = image_size, latent_size
        self.encoder = ConvEncoder(image_size, latent_size)
        self.decoder = ConvDecoder(image_size, latent_size)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.encoder(x)
        return {"recon": self.decoder(z), "z": z}


class ConvVAE(nn.Module):
    """Variational autoencoder; the stored latent is the posterior mean ``mu``."""

    kind = "vae"

    def __init__(self, image_size: int = 64, latent_size: int = 64):
        super().__init__()
        self.image_size, self.latent_size = image_size, latent_size
        self.encoder = ConvEncoder(image_size, 2 * latent_size)
        self.decoder = ConvDecoder(image_size, latent_size)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)[:, : self.latent_size]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        logvar = logvar.clamp(-10.0, 10.0)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return {"recon": self.decoder(z), "z": z, "mu": mu, "logvar": logvar}


def build_model(arch: str, image_size: int = 64, latent_size: int = 64) -> nn.Module:
    """Build a pixel model by name ("ae" or "vae")."""
    if arch == "ae":
        return ConvAE(image_size, latent_size)
    if arch == "vae":
        return ConvVAE(image_size, latent_size)
    raise ValueError(f"unknown arch {arch!r} (expected 'ae' or 'vae')")


class EncoderExport(nn.Module):
    """Wraps a model so that ``forward`` is the latent used for sorting (for ONNX export)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.encode(x)


class DecoderExport(nn.Module):
    """Wraps a model's decoder: latent -> RGB image in [0, 1]."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model.decode(z) if hasattr(self.model, "decode") else self.model.decoder(z)
