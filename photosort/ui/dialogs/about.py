"""Help ▸ About: version, models, where the data lives."""

from __future__ import annotations

import html

from PySide6 import __version__ as pyside_version
from PySide6.QtWidgets import QMessageBox, QWidget

from photosort import __version__
from photosort.core.encoders import Registry
from photosort.core.errors import ModelError


def about_text(registry: Registry, current_model: str, db_path: str) -> str:
    rows = []
    try:
        models = registry.models()
    except ModelError:
        models = []
    for info in models:
        mark = " (in use)" if info.id == current_model else ""
        kind = "generative" if info.generative else "encoder"
        rows.append(
            f"<li><b>{html.escape(info.name)}</b>{mark}<br>"
            f"{html.escape(info.description)}<br><small>{html.escape(info.id)} "
            f"v{html.escape(info.version)} · {kind} · {info.latent_size} numbers · "
            f"{info.metric} · trained on: {html.escape(info.training_data or 'n/a')}</small></li>"
        )
    problems = "".join(f"<li>{html.escape(p)}</li>" for p in registry.problems)
    return (
        f"<h2>PhotoSort {html.escape(__version__)}</h2>"
        "<p>Sorts a folder of photos by visual similarity, using the latents of an image "
        "encoder. Open source (MIT).</p>"
        f"<p><b>Encoders</b></p><ul>{''.join(rows) or '<li>none installed</li>'}</ul>"
        + (f"<p><b>Model problems</b></p><ul>{problems}</ul>" if problems else "")
        + f"<p><small>Database: {html.escape(db_path)}<br>Qt for Python {pyside_version}"
        "</small></p>"
    )


def show_about(parent: QWidget, registry: Registry, current_model: str, db_path: str) -> None:
    QMessageBox.about(parent, "About PhotoSort", about_text(registry, current_model, db_path))
