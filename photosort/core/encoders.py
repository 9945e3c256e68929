"""The encoder registry: ONNX models described by a JSON manifest each.

A model is `<dir>/<id>.json` next to its ONNX files. Sessions open lazily, on the first encode,
so listing models (for a menu or `photosort models`) costs no model loading.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from photosort import paths
from photosort.core.errors import ModelError
from photosort.core.expansion import QueryExpansion

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

# numpy (and onnxruntime) are imported where they are first needed rather than here: the
# indexer starts its decode threads first, and they work while the imports run (~0.1 s of a
# command's start-up).

METRICS = ("cosine", "euclidean")
RESIZE_MODES = ("squash", "center-crop")


@dataclass(frozen=True)
class ModelInfo:
    """A model's manifest, validated."""

    id: str
    name: str
    description: str
    encoder_path: Path
    decoder_path: Path | None
    input_size: tuple[int, int]  # (height, width)
    resize: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    latent_size: int
    metric: str
    version: str
    training_data: str
    default: bool = False
    #: A reference model (the plain ImageNet backbone): measured by `photosort eval`, never
    #: offered as an encoder in the app or the command line's model list.
    reference: bool = False
    #: How `sort` re-ranks with this model (None: by distance alone); see similarity.py.
    query_expansion: QueryExpansion | None = None
    manifest_path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def generative(self) -> bool:
        """True when the model has a decoder (an AE/VAE): it can show what it sees."""
        return self.decoder_path is not None

    @property
    def shows_reconstruction(self) -> bool:
        """True when the manifest says the decoder's output looks like the photo, so the
        preview may offer it. Content encoders decode to a grey blur: they leave it out."""
        return self.generative and self.extra.get("shows_reconstruction") is True

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "latent_size": self.latent_size,
            "metric": self.metric,
            "input_size": list(self.input_size),
            "version": self.version,
            "training_data": self.training_data,
            "default": self.default,
            "generative": self.generative,
            "shows_reconstruction": self.shows_reconstruction,
            "path": str(self.encoder_path),
        }


def _query_expansion(raw: Any) -> QueryExpansion | None:
    if not raw:
        return None
    return QueryExpansion(k=int(raw.get("k", 5)), alpha=float(raw.get("alpha", 3.0)))


def load_manifest(manifest_path: Path) -> ModelInfo:
    """Read and validate one manifest; every problem names the file."""
    try:
        raw = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{manifest_path}: unreadable model manifest ({exc})") from None
    if not isinstance(raw, dict):
        raise ModelError(f"{manifest_path}: a model manifest must be a JSON object")
    try:
        base = manifest_path.parent
        decoder = raw.get("decoder")
        size = raw["input_size"]
        if isinstance(size, int):
            size = [size, size]
        norm = raw.get("normalization") or {}
        info = ModelInfo(
            id=str(raw["id"]),
            name=str(raw.get("name", raw["id"])),
            description=str(raw.get("description", "")),
            encoder_path=base / str(raw.get("encoder", f"{raw['id']}.onnx")),
            decoder_path=(base / str(decoder)) if decoder else None,
            input_size=(int(size[0]), int(size[1])),
            resize=str(raw.get("resize", "squash")),
            mean=tuple(float(v) for v in norm.get("mean", (0.0, 0.0, 0.0))),  # type: ignore[arg-type]
            std=tuple(float(v) for v in norm.get("std", (1.0, 1.0, 1.0))),  # type: ignore[arg-type]
            latent_size=int(raw["latent_size"]),
            metric=str(raw.get("metric", "cosine")),
            version=str(raw.get("version", "0")),
            training_data=str(raw.get("training_data", "")),
            default=bool(raw.get("default", False)),
            reference=bool(raw.get("reference", False)),
            query_expansion=_query_expansion(raw.get("query_expansion")),
            manifest_path=manifest_path,
            extra=raw,
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ModelError(f"{manifest_path}: invalid model manifest ({exc!r})") from None
    if info.metric not in METRICS:
        raise ModelError(f"{manifest_path}: unknown metric {info.metric!r}")
    if info.resize not in RESIZE_MODES:
        raise ModelError(f"{manifest_path}: unknown resize mode {info.resize!r}")
    if not isinstance(raw.get("shows_reconstruction", False), bool):
        raise ModelError(f"{manifest_path}: shows_reconstruction must be true or false")
    if len(info.mean) != 3 or len(info.std) != 3 or 0.0 in info.std:
        raise ModelError(f"{manifest_path}: normalization needs three means and non-zero stds")
    return info


class Encoder:
    """One model's ONNX sessions, opened on first use; safe to call from one thread at a time
    per instance (onnxruntime sessions themselves are thread-safe, the lazy open is locked)."""

    def __init__(self, info: ModelInfo, threads: int | None = None) -> None:
        self.info = info
        self.threads = threads
        self._lock = threading.Lock()
        self._encoder: Any = None
        self._decoder: Any = None

    def _session(self, path: Path) -> Any:
        import onnxruntime as ort  # imported here: listing models must stay instant

        if not path.is_file():
            raise ModelError(f"model file missing: {path}")
        options = ort.SessionOptions()
        if self.threads:
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
        # onnxruntime's pool threads busy-wait between runs by default. Between two batches the
        # indexer's decode threads need those cores (and a laptop its battery): measured on 2
        # cores, spinning doubled the encoder's CPU time per photo for no gain in speed.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            return ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"model file {path} cannot be loaded: {exc}") from None

    def _encoder_session(self) -> Any:
        with self._lock:
            if self._encoder is None:
                self._encoder = self._session(self.info.encoder_path)
            return self._encoder

    def _decoder_session(self) -> Any:
        if self.info.decoder_path is None:
            raise ModelError(f"model {self.info.id} has no decoder")
        with self._lock:
            if self._decoder is None:
                self._decoder = self._session(self.info.decoder_path)
            return self._decoder

    def preprocess(self, batch: np.ndarray) -> np.ndarray:
        """uint8 NHWC RGB -> normalised float32 NCHW, as the manifest says."""
        # Reorder while the pixels are still one byte each, then convert once and scale in
        # place: 7x less time than normalising in NHWC float and transposing that (measured).
        import numpy as np

        std = np.asarray(self.info.std, dtype=np.float32)
        scale = (1.0 / (255.0 * std)).reshape(1, 3, 1, 1)
        bias = (-np.asarray(self.info.mean, dtype=np.float32) / std).reshape(1, 3, 1, 1)
        x = np.ascontiguousarray(batch.transpose(0, 3, 1, 2)).astype(np.float32)
        x *= scale
        x += bias
        return x

    def encode(self, batch: np.ndarray) -> np.ndarray:
        """Latents, float32 of shape (N, latent_size), for a uint8 batch of shape (N, H, W, 3)."""
        import numpy as np

        if batch.ndim != 4 or batch.shape[1:] != (*self.info.input_size, 3):
            raise ValueError(f"expected (N, {self.info.input_size}, 3) pixels, got {batch.shape}")
        if len(batch) == 0:
            return np.zeros((0, self.info.latent_size), np.float32)
        session = self._encoder_session()
        name = session.get_inputs()[0].name
        out = session.run(None, {name: self.preprocess(batch)})[0]
        out = np.asarray(out, dtype=np.float32).reshape(len(batch), -1)
        if out.shape[1] != self.info.latent_size:
            raise ModelError(
                f"model {self.info.id} gave {out.shape[1]} values, manifest says "
                f"{self.info.latent_size}"
            )
        return out

    def encode_images(self, images: list[Image.Image]) -> np.ndarray:
        """Latents for RGB images already at the model's input size."""
        import numpy as np

        if not images:
            return np.zeros((0, self.info.latent_size), np.float32)
        return self.encode(np.stack([np.asarray(img, dtype=np.uint8) for img in images]))

    def decode(self, latents: np.ndarray) -> np.ndarray:
        """Reconstructions as uint8 NHWC RGB, for generative models."""
        import numpy as np

        session = self._decoder_session()
        name = session.get_inputs()[0].name
        out = session.run(None, {name: np.asarray(latents, np.float32).reshape(len(latents), -1)})
        img = np.clip(np.asarray(out[0], np.float32), 0.0, 1.0) * 255.0 + 0.5
        return img.astype(np.uint8).transpose(0, 2, 3, 1)


class Registry:
    """Every model found in the model folders; later folders do not shadow earlier ids."""

    def __init__(self, dirs: list[Path], threads: int | None = None) -> None:
        self.dirs = [Path(d) for d in dirs]
        self.threads = threads
        self.problems: list[str] = []
        self._models: dict[str, ModelInfo] = {}
        self._encoders: dict[str, Encoder] = {}
        self._lock = threading.Lock()
        self._discover()

    @classmethod
    def default(cls, threads: int | None = None) -> Registry:
        return cls(paths.model_dirs(), threads=threads)

    def _discover(self) -> None:
        for directory in self.dirs:
            if not directory.is_dir():
                continue
            for manifest in sorted(directory.glob("*.json")):
                try:
                    info = load_manifest(manifest)
                except ModelError as exc:
                    self.problems.append(str(exc))
                    continue
                if info.id not in self._models:
                    self._models[info.id] = info

    def models(self, include_references: bool = False) -> list[ModelInfo]:
        """Installed models, the default first, then by name; reference models (see
        `ModelInfo.reference`) only when asked for."""
        default = self.default_id()
        found = [m for m in self._models.values() if include_references or not m.reference]
        return sorted(found, key=lambda m: (m.id != default, m.name.lower()))

    def default_id(self) -> str:
        if not self._models:
            where = ", ".join(str(d) for d in self.dirs) or "(no folders)"
            raise ModelError(f"no encoder installed (looked in {where})")
        chosen = os.environ.get(paths.MODEL_ENV)
        if chosen and chosen in self._models:
            return chosen
        flagged = sorted(m.id for m in self._models.values() if m.default)
        if flagged:
            return flagged[0]
        usable = sorted(i for i, m in self._models.items() if not m.reference)
        return usable[0] if usable else sorted(self._models)[0]

    def info(self, model_id: str | None = None) -> ModelInfo:
        model_id = model_id or self.default_id()
        try:
            return self._models[model_id]
        except KeyError:
            known = ", ".join(sorted(self._models)) or "none"
            raise ModelError(f"unknown model {model_id!r} (installed: {known})") from None

    def set_threads(self, threads: int | None) -> None:
        """Inference threads for encoders opened from now on (None: onnxruntime decides).
        Encoders already open are dropped so that the next use opens them with it."""
        with self._lock:
            if threads != self.threads:
                self.threads = threads
                self._encoders.clear()

    def encoder(self, model_id: str | None = None) -> Encoder:
        info = self.info(model_id)
        with self._lock:
            enc = self._encoders.get(info.id)
            if enc is None:
                enc = self._encoders[info.id] = Encoder(info, self.threads)
            return enc
