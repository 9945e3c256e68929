"""Progress reporting and cancellation shared by every long-running job."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from photosort.core.errors import Cancelled


@dataclass(frozen=True, slots=True)
class Progress:
    done: int
    total: int
    current: str = ""


ProgressCallback = Callable[[Progress], None]


class CancelToken:
    """A thread-safe flag a front end sets to stop a job between two units of work."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


def no_progress(_: Progress) -> None:
    """Default callback for callers that do not display progress."""
