"""A dependency-free progress bar for the terminal (tqdm is not a declared dependency)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """``[=====>    ] 120/440 12.3 it/s eta 0:26 loss 0.0123`` redrawn in place on a TTY.

    On a non-TTY stream (a log file under nohup) it prints one line every ``log_every`` seconds
    instead, so logs stay readable.
    """

    def __init__(
        self, total: int, desc: str = "", stream: TextIO | None = None, log_every: float = 30.0
    ):
        self.total, self.desc = max(1, total), desc
        self.stream = stream or sys.stderr
        self.tty = getattr(self.stream, "isatty", lambda: False)()
        self.start = self.last = time.monotonic()
        self.log_every = log_every
        self.n = 0

    def update(self, n: int = 1, **postfix: float) -> None:
        self.n += n
        now = time.monotonic()
        if not self.tty and now - self.last < self.log_every and self.n < self.total:
            return
        if self.tty and now - self.last < 0.1 and self.n < self.total:
            return
        self.last = now
        self.stream.write(self._line(now, postfix) + ("\r" if self.tty else "\n"))
        self.stream.flush()

    def _line(self, now: float, postfix: dict[str, float]) -> str:
        elapsed = now - self.start
        rate = self.n / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.n) / rate if rate > 0 else 0.0
        width = 24
        done = int(width * self.n / self.total)
        bar = "=" * done + (">" if done < width else "") + " " * max(0, width - done - 1)
        extra = " ".join(f"{k} {v:.4g}" for k, v in postfix.items())
        return (
            f"{self.desc} [{bar}] {self.n}/{self.total} {rate:.1f} it/s "
            f"eta {int(eta) // 60}:{int(eta) % 60:02d} {extra}"
        )

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
