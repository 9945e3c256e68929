"""ONNX export and manifests in the format the core's registry loads (models/<id>.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

OPSET = 17

TRAINING_DATA = "scenes-train (14,039 outdoor photos, Intel scene classification set), research use"


def export_onnx(
    module: nn.Module,
    example: torch.Tensor,
    path: str | Path,
    input_name: str = "input",
    output_name: str = "output",
) -> Path:
    """Export ``module`` (eval mode) with a dynamic batch axis, opset 17."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = module.eval()
    with torch.no_grad():
        torch.onnx.export(
            module,
            (example,),
            str(path),
            input_names=[input_name],
            output_names=[output_name],
            dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
    return path


def compress_fp16_weights(path: str | Path, min_elements: int = 4096) -> None:
    """Store large float32 initialisers as float16 with a Cast back to float32 in the graph.

    Halves the file of a pretrained backbone (the maths still runs in float32; the rounding of
    the weights changes latents by far less than any ranking difference). Used to keep
    `models/` under its 40 MB budget.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    keep, casts, new_inits = [], [], []
    for init in graph.initializer:
        if init.data_type == TensorProto.FLOAT and int(np.prod(init.dims)) >= min_elements:
            arr = numpy_helper.to_array(init).astype(np.float16)
            half = numpy_helper.from_array(arr, init.name + "__fp16")
            new_inits.append(half)
            casts.append(
                helper.make_node(
                    "Cast",
                    [half.name],
                    [init.name],
                    to=TensorProto.FLOAT,
                    name=init.name + "__cast",
                )
            )
        else:
            keep.append(init)
    del graph.initializer[:]
    graph.initializer.extend(keep + new_inits)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def write_manifest(
    out: str | Path,
    *,
    name: str,
    description: str,
    input_size: tuple[int, int],
    latent_size: int,
    has_decoder: bool,
    resize: str = "squash",
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5),
    std: tuple[float, float, float] = (0.5, 0.5, 0.5),
    metric: str = "cosine",
    version: str = "1.0.0",
    training_data: str = TRAINING_DATA,
    default: bool = False,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``<out>.json``; ``out`` is ``models/<id>`` (the id is its last component)."""
    out = Path(out)
    model_id = out.name
    manifest: dict[str, Any] = {
        "id": model_id,
        "name": name,
        "description": description,
        "encoder": f"{model_id}.encoder.onnx",
        "decoder": f"{model_id}.decoder.onnx" if has_decoder else None,
        "input_size": [int(input_size[0]), int(input_size[1])],
        "resize": resize,
        "normalization": {"mean": [float(m) for m in mean], "std": [float(s) for s in std]},
        "latent_size": int(latent_size),
        "metric": metric,
        "version": version,
        "training_data": training_data,
        "default": default,
    }
    if extra:
        manifest.update(extra)
    path = out.parent / f"{model_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return path


def onnx_paths(out: str | Path) -> tuple[Path, Path]:
    """(encoder path, decoder path) for ``models/<id>``."""
    out = Path(out)
    return (
        out.parent / f"{out.name}.encoder.onnx",
        out.parent / f"{out.name}.decoder.onnx",
    )
