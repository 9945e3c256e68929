"""How a model asks for its rankings to be refined: a small value type, free of numpy so the
model registry can carry it without slowing the command line's start (see encoders.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QueryExpansion:
    """Alpha query expansion (Radenović et al. 2018): after a first ranking, the query becomes
    the reference plus its ``k`` nearest photos of the folder, each weighted by its similarity
    to the power ``alpha``; the folder is ranked again by that. Photos like the reference's
    closest neighbours then come up too: other shots of the same place or the same kind of
    subject that differ from the reference in framing or light. Cosine metric only; a model's
    manifest asks for it (``"query_expansion": {"k": 5, "alpha": 3}``)."""

    k: int = 5
    alpha: float = 3.0
