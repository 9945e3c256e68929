"""`photosort models`: the installed encoders."""

from __future__ import annotations

import argparse
import json

NAME = "models"
HELP = "list the installed encoders"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print a JSON array")


def run(args: argparse.Namespace) -> int:
    from photosort.commands.common import warn
    from photosort.core.encoders import Registry

    registry = Registry.default()
    for problem in registry.problems:
        warn(problem)
    models = registry.models()
    default = registry.default_id() if models else None
    if args.json:
        out = []
        for m in models:
            item = m.to_json()
            item["default"] = m.id == default
            out.append(item)
        print(json.dumps(out, indent=1, ensure_ascii=False))
        return 0
    for m in models:
        mark = "*" if m.id == default else " "
        kind = "generative" if m.generative else "encoder"
        print(f"{mark} {m.id:<16} {m.latent_size:>5}-d {m.metric:<9} {kind:<10} {m.description}")
    return 0
