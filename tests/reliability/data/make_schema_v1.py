"""Rebuild schema-v1.sqlite3: a store exactly as schema version 1 of PhotoSort wrote it.

Run once from the repository root (`python tests/reliability/data/make_schema_v1.py`); the
resulting file is committed, so the migration test keeps testing *that* file even if
`MIGRATIONS` is ever edited by mistake.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np

from photosort.core.store import connect, migrate

HERE = Path(__file__).resolve().parent
ROOT = b"/photosort-schema-v1/photos/"
#: (name, size, mtime_ns); the third is not valid UTF-8.
PHOTOS = [
    (b"beach.jpg", 1000, 1_600_000_000_000_000_000),
    (b"trip/mountain.jpg", 2000, 1_600_000_001_000_000_000),
    (b"caf\xe9.jpg", 3000, 1_600_000_002_000_000_000),
    (b"trip/lake.png", 4000, 1_600_000_003_000_000_000),
]
FAILURE = (b"broken.jpg", 5, 1_600_000_004_000_000_000, "not a recognised image format")


def vector(i: int) -> np.ndarray:
    return (np.arange(192, dtype=np.float32) * (i + 1) / 192.0).astype(np.float32)


def build(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    conn = connect(path)
    migrate(conn, target=1)
    conn.execute("BEGIN")
    for i, (name, size, mtime) in enumerate(PHOTOS):
        cur = conn.execute(
            "INSERT INTO photos(path, size, mtime_ns, hash) VALUES (?, ?, ?, ?)",
            (ROOT + name, size, mtime, bytes([i]) * 16),
        )
        conn.execute(
            "INSERT INTO latents(photo_id, model, vector) VALUES (?, 'pixels-8x8', ?)",
            (cur.lastrowid, vector(i).tobytes()),
        )
    name, size, mtime, reason = FAILURE
    conn.execute("INSERT INTO failures VALUES (?, ?, ?, ?)", (ROOT + name, size, mtime, reason))
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("VACUUM")
    conn.close()
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == 1
    check.close()


if __name__ == "__main__":
    target = HERE / "schema-v1.sqlite3"
    build(target)
    print(f"wrote {target} ({os.path.getsize(target)} bytes)")
