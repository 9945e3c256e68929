"""The SQLite store: photos, their latents per model, and the files that could not be read.

One `Store` is one connection and belongs to one thread; open another `Store` on the same file
in every thread or process that needs it. WAL mode lets readers work while an indexer writes;
every write is a short `BEGIN IMMEDIATE` transaction, and a 30 s busy timeout absorbs another
writer, so "database is locked" does not reach the user.

Paths are stored as the OS's bytes (`os.fsencode`), so file names that are not valid UTF-8
round-trip exactly and a folder's photos are one index range scan.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import time
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from photosort.core.errors import StoreError, plain_reason
from photosort.core.files import folder_prefix_key, key_to_path, path_to_key

if TYPE_CHECKING:  # numpy is imported on first use: see encoders.py
    import numpy as np

BUSY_TIMEOUT_MS = 30_000


# Each step is a list of statements run inside one transaction (`executescript` would commit
# halfway, so it is not used).
_V1 = [
    """CREATE TABLE photos(
        id INTEGER PRIMARY KEY,
        path BLOB NOT NULL UNIQUE,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        hash BLOB
    )""",
    "CREATE INDEX photos_hash ON photos(hash)",
    """CREATE TABLE latents(
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY(photo_id, model)
    ) WITHOUT ROWID""",
    "CREATE INDEX latents_model ON latents(model)",
    """CREATE TABLE failures(
        path BLOB PRIMARY KEY,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        reason TEXT NOT NULL
    )""",
]

# Pixel size and date taken feed the app's "Sort by date taken" and its tooltips; the projection
# cache keeps 2-D maps so reopening a folder shows its map at once.
_V2 = [
    "ALTER TABLE photos ADD COLUMN width INTEGER",
    "ALTER TABLE photos ADD COLUMN height INTEGER",
    "ALTER TABLE photos ADD COLUMN taken TEXT",
    """CREATE TABLE projections(
        key TEXT PRIMARY KEY,
        model TEXT NOT NULL,
        created REAL NOT NULL,
        data BLOB NOT NULL
    )""",
]

# Content hashes went from BLAKE2b to BLAKE3 (5x less CPU per photo, see decode.content_hash).
# An old digest can never equal a new one, so keeping them would only hide that: they are
# dropped, and a photo indexed before is simply re-encoded if it is later moved or copied (an
# edit is still caught: without a stored digest, `upsert_photo` compares size and time).
_V3 = ["UPDATE photos SET hash = NULL"]

# A photo's pixel signature (see core/signature.py): a tiny grey thumbnail the duplicate finder
# compares, independent of any encoder. Kept per photo, not per model; it goes with the photo's
# row (moves keep it, copies get it, a content change drops it, like latents).
_V4 = [
    """CREATE TABLE signatures(
        photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
        data BLOB NOT NULL
    )""",
]

# The duplicate finder's checked pairs (core/duplicates.py): which photos are duplicates of
# which, found once when they are indexed, so grouping a large folder reads them instead of
# comparing 100,000 photos again. `model` is the finder's recipe (encoder, version, thresholds):
# links of another recipe are never used. A photo is "checked" once its candidates among the
# photos of `scope` (a folder key) were compared; a content change drops both, a deletion too.
_V5 = [
    """CREATE TABLE duplicate_links(
        a INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        b INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        rank REAL NOT NULL,
        PRIMARY KEY(a, b, model)
    ) WITHOUT ROWID""",
    "CREATE INDEX duplicate_links_b ON duplicate_links(b)",
    # (near-copy links are the few with a low rank: the default grouping reads only those)
    "CREATE INDEX duplicate_links_rank ON duplicate_links(model, rank)",
    """CREATE TABLE duplicate_checked(
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        scope BLOB NOT NULL,
        PRIMARY KEY(photo_id, model)
    ) WITHOUT ROWID""",
    "CREATE INDEX duplicate_checked_model ON duplicate_checked(model)",
    # What choosing a group's keeper reads from a photo's file (sharpness, an editor's EXIF
    # tag), read once: NULL is "not read yet", -1 "the file could not tell".
    """CREATE TABLE keeper_facts(
        photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
        sharpness REAL,
        edited REAL
    )""",
]

#: MIGRATIONS[i] takes a store from schema version i to i + 1. Never edit a released step.
MIGRATIONS: list[list[str]] = [_V1, _V2, _V3, _V4, _V5]
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True, slots=True)
class PhotoRow:
    id: int
    path: str
    size: int
    mtime_ns: int
    hash: bytes | None
    has_latent: bool = False


@dataclass(frozen=True, slots=True)
class PhotoInfo:
    """What the app shows about a photo."""

    id: int
    path: str
    size: int
    mtime_ns: int
    width: int | None
    height: int | None
    taken: str | None


@dataclass(frozen=True, slots=True)
class Failure:
    path: str
    size: int
    mtime_ns: int
    reason: str


def _prefix_range(folder: str | os.PathLike[str]) -> tuple[bytes, bytes]:
    lo = folder_prefix_key(folder)
    return lo, lo[:-1] + bytes([lo[-1] + 1])


def _recipes_of(model: str) -> str:
    """A LIKE pattern (escape character \\) matching every duplicate-finder recipe of `model`
    (duplicates.links_recipe: "model|version|thresholds|finder version")."""
    return model.replace("%", r"\%").replace("_", r"\_") + "|%"


#: What the duplicate finder read of a photo: (content hash, size, mtime_ns, whether it had
#: the model's latent; None: not looked at).
PhotoAsRead = tuple[bytes | None, int, int, bool | None]


def _id_parts(ids: Iterable[int], size: int = 500) -> Iterator[tuple[list[int], str]]:
    """`ids` in parts small enough for one query's parameters (SQLite allows 999 in older
    builds), each with its "?,?,..." placeholders for an IN (...) clause."""
    ids = list(ids)
    for i in range(0, len(ids), size):
        part = ids[i : i + size]
        yield part, ",".join("?" * len(part))


def _unchanged(
    conn: sqlite3.Connection, model: str, ids: Iterable[int], as_read: Mapping[int, PhotoAsRead]
) -> set[int]:
    """Those of `ids` still in the store as they were read (`as_read`)."""
    same: set[int] = set()
    for part, marks in _id_parts(ids):
        for photo_id, digest, size, mtime_ns, has_latent in conn.execute(
            f"""SELECT p.id, p.hash, p.size, p.mtime_ns, EXISTS(
                    SELECT 1 FROM latents l WHERE l.photo_id = p.id AND l.model = ?)
                FROM photos p WHERE p.id IN ({marks})""",
            (model, *part),
        ):
            read = as_read.get(photo_id)
            if read is None:
                continue
            now = (bytes(digest) if digest is not None else None, size, mtime_ns)
            if now == read[:3] and read[3] in (None, bool(has_latent)):
                same.add(photo_id)
    return same


def connect(path: Path, timeout_ms: int = BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    conn = sqlite3.connect(
        str(path), timeout=timeout_ms / 1000, isolation_level=None, check_same_thread=True
    )
    conn.execute(f"PRAGMA busy_timeout={int(timeout_ms)}")
    conn.execute("PRAGMA foreign_keys=ON")
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":  # e.g. a network share without shared memory
        conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply the missing steps up to `target`, each in its own transaction; returns the start."""
    start = conn.execute("PRAGMA user_version").fetchone()[0]
    if start > SCHEMA_VERSION:
        raise StoreError(
            f"this database was written by a newer PhotoSort (schema {start}, "
            f"this version knows {SCHEMA_VERSION})"
        )
    for version in range(start, target):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while we waited for the lock.
            if conn.execute("PRAGMA user_version").fetchone()[0] != version:
                conn.execute("ROLLBACK")
                continue
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return start


class Store:
    """A PhotoSort database file. Create one per thread."""

    def __init__(self, path: str | os.PathLike[str], check: bool = False) -> None:
        """`check=True` also reads every page (PRAGMA quick_check) and sets a file whose pages
        are damaged aside like one whose header is; the command line does this once per run."""
        self.path = Path(path)
        #: Where a damaged database was moved before a fresh one was started, if that happened.
        self.set_aside: Path | None = None
        self.migrated_from: int | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the folder for the database {self.path}: {plain_reason(exc)}"
            ) from None
        try:
            self._conn = self._open_patiently()
        except sqlite3.DatabaseError as exc:
            if not _looks_damaged(exc):
                raise StoreError(f"cannot open the database {self.path}: {exc}") from None
            self.set_aside = self._move_aside()
            try:
                self._conn = self._open()
            except sqlite3.Error as exc2:
                raise StoreError(f"cannot open the database {self.path}: {exc2}") from None
        if check and self.set_aside is None and not self._healthy():
            self._conn.close()
            self.set_aside = self._move_aside()
            try:
                self._conn = self._open()
            except sqlite3.Error as exc2:
                raise StoreError(f"cannot open the database {self.path}: {exc2}") from None

    def _healthy(self) -> bool:
        try:
            return self._conn.execute("PRAGMA quick_check(1)").fetchone()[0] == "ok"
        except sqlite3.DatabaseError as exc:
            if _looks_damaged(exc):
                return False
            raise StoreError(f"cannot read the database {self.path}: {exc}") from None

    def _open_patiently(self, patience: float = BUSY_TIMEOUT_MS / 1000) -> sqlite3.Connection:
        """Open, retrying while another process holds a lock SQLite will not wait for by itself
        (switching a brand-new file to WAL, or a migration in progress elsewhere)."""
        deadline = time.monotonic() + patience
        pause = 0.02
        while True:
            try:
                return self._open()
            except sqlite3.OperationalError as exc:
                text = str(exc).lower()
                if ("locked" not in text and "busy" not in text) or time.monotonic() > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.5)

    def _open(self) -> sqlite3.Connection:
        conn = connect(self.path)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if 0 < version < SCHEMA_VERSION:
                conn.close()
                self._backup(version)
                conn = connect(self.path)
            start = migrate(conn)
            if start != SCHEMA_VERSION and start > 0:
                self.migrated_from = start
            return conn
        except BaseException:
            conn.close()
            raise

    def _backup(self, version: int) -> None:
        """Copy the file before migrating it, as Vorta does: a failed upgrade loses nothing."""
        backup = self.path.with_name(f"{self.path.name}.schema{version}.bak")
        with contextlib.closing(sqlite3.connect(str(self.path))) as src:
            src.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copy2(self.path, backup)

    def _move_aside(self) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        n = 1
        while aside.exists():
            n += 1
            aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}-{n}")
        os.replace(self.path, aside)
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                os.replace(side, aside.with_name(aside.name + suffix))
        return aside

    # -- plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A short write transaction that takes the write lock up front (no upgrade deadlock)."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def integrity_check(self) -> str:
        return self._conn.execute("PRAGMA integrity_check").fetchone()[0]

    def schema_version(self) -> int:
        return self._conn.execute("PRAGMA user_version").fetchone()[0]

    # -- reading ----------------------------------------------------------------------------

    def photos_under(
        self, folder: str | os.PathLike[str], model: str | None = None
    ) -> dict[str, PhotoRow]:
        """Every stored photo below `folder`, with whether it has a latent for `model`."""
        lo, hi = _prefix_range(folder)
        rows = self._conn.execute(
            """SELECT p.id, p.path, p.size, p.mtime_ns, p.hash,
                      EXISTS(SELECT 1 FROM latents l WHERE l.photo_id = p.id AND l.model = ?)
               FROM photos p WHERE p.path >= ? AND p.path < ?""",
            (model or "", lo, hi),
        )
        out = {}
        for pid, key, size, mtime, digest, has in rows:
            path = key_to_path(key)
            out[path] = PhotoRow(pid, path, size, mtime, digest, bool(has))
        return out

    def photo_row(self, path: str, model: str | None = None) -> PhotoRow | None:
        """One photo's row, with whether it has a latent for `model`."""
        row = self._conn.execute(
            """SELECT p.id, p.size, p.mtime_ns, p.hash,
                      EXISTS(SELECT 1 FROM latents l WHERE l.photo_id = p.id AND l.model = ?)
               FROM photos p WHERE p.path = ?""",
            (model or "", path_to_key(path)),
        ).fetchone()
        if row is None:
            return None
        return PhotoRow(row[0], path, row[1], row[2], row[3], bool(row[4]))

    def photo_infos_under(self, folder: str | os.PathLike[str]) -> list[PhotoInfo]:
        lo, hi = _prefix_range(folder)
        rows = self._conn.execute(
            """SELECT id, path, size, mtime_ns, width, height, taken FROM photos
               WHERE path >= ? AND path < ? ORDER BY path""",
            (lo, hi),
        )
        return [PhotoInfo(r[0], key_to_path(r[1]), r[2], r[3], r[4], r[5], r[6]) for r in rows]

    def photo_by_path(self, path: str) -> PhotoInfo | None:
        r = self._conn.execute(
            "SELECT id, path, size, mtime_ns, width, height, taken FROM photos WHERE path = ?",
            (path_to_key(path),),
        ).fetchone()
        return PhotoInfo(r[0], key_to_path(r[1]), r[2], r[3], r[4], r[5], r[6]) if r else None

    def failures_under(self, folder: str | os.PathLike[str]) -> dict[str, Failure]:
        lo, hi = _prefix_range(folder)
        rows = self._conn.execute(
            "SELECT path, size, mtime_ns, reason FROM failures WHERE path >= ? AND path < ?",
            (lo, hi),
        )
        return {key_to_path(k): Failure(key_to_path(k), s, m, r) for k, s, m, r in rows}

    def latent_sources(self, model: str) -> dict[bytes, int]:
        """content hash -> a photo id holding a latent for `model` (for moved/copied files)."""
        rows = self._conn.execute(
            """SELECT p.hash, p.id FROM photos p JOIN latents l ON l.photo_id = p.id
               WHERE l.model = ? AND p.hash IS NOT NULL""",
            (model,),
        )
        return {digest: pid for digest, pid in rows}

    def latents_under(
        self, folder: str | os.PathLike[str], model: str
    ) -> tuple[list[str], np.ndarray]:
        """Paths (sorted) and a float32 matrix, one row per photo with a latent for `model`."""
        lo, hi = _prefix_range(folder)
        rows = self._conn.execute(
            """SELECT p.path, l.vector FROM photos p JOIN latents l ON l.photo_id = p.id
               WHERE l.model = ? AND p.path >= ? AND p.path < ? ORDER BY p.path""",
            (model, lo, hi),
        ).fetchall()
        return _unpack(rows)

    def latents_for_paths(self, paths: Iterable[str], model: str) -> tuple[list[str], np.ndarray]:
        found = []
        for path in paths:
            row = self._conn.execute(
                """SELECT p.path, l.vector FROM photos p JOIN latents l ON l.photo_id = p.id
                   WHERE l.model = ? AND p.path = ?""",
                (model, path_to_key(path)),
            ).fetchone()
            if row is not None:
                found.append(row)
        return _unpack(found)

    def duplicate_facts_under(
        self, folder: str | os.PathLike[str], model: str, blobs: bool = True
    ) -> list[
        tuple[
            int,
            str,
            int,
            int,
            bytes | None,
            int | None,
            int | None,
            str | None,
            bytes | None,
            bytes | None,
        ]
    ]:
        """Everything the duplicate finder needs, one row per photo below `folder`, by path:
        (id, path, size, mtime_ns, hash, width, height, taken, signature, latent of `model`).
        With `blobs=False` the signature and latent are None (a large folder's are ~4 kB a
        photo: grouping from stored links needs neither)."""
        lo, hi = _prefix_range(folder)
        if not blobs:
            rows = self._conn.execute(
                """SELECT id, path, size, mtime_ns, hash, width, height, taken FROM photos
                   WHERE path >= ? AND path < ? ORDER BY path""",
                (lo, hi),
            )
            return [(r[0], key_to_path(r[1]), *r[2:], None, None) for r in rows]
        return list(self.iter_duplicate_facts_under(folder, model))

    def iter_duplicate_facts_under(
        self, folder: str | os.PathLike[str], model: str
    ) -> Iterator[tuple]:
        """duplicate_facts_under's rows one by one (a large folder's blobs are never all held)."""
        lo, hi = _prefix_range(folder)
        rows = self._conn.execute(
            """SELECT p.id, p.path, p.size, p.mtime_ns, p.hash, p.width, p.height, p.taken,
                      s.data, l.vector
               FROM photos p
               LEFT JOIN signatures s ON s.photo_id = p.id
               LEFT JOIN latents l ON l.photo_id = p.id AND l.model = ?
               WHERE p.path >= ? AND p.path < ? ORDER BY p.path""",
            (model, lo, hi),
        )
        for r in rows:
            yield (r[0], key_to_path(r[1]), *r[2:])

    def signatures_of(self, photo_ids: Iterable[int]) -> dict[int, bytes]:
        """The stored signatures of these photos (those that have one)."""
        out: dict[int, bytes] = {}
        for part, marks in _id_parts(photo_ids):
            out.update(
                self._conn.execute(
                    f"SELECT photo_id, data FROM signatures WHERE photo_id IN ({marks})", part
                ).fetchall()
            )
        return out

    def keeper_facts_of(
        self, photo_ids: Iterable[int]
    ) -> dict[int, tuple[float | None, float | None]]:
        """(sharpness, edited) as stored for these photos, NULL where not read yet (see
        duplicates.FileFacts for what the values mean)."""
        out: dict[int, tuple[float | None, float | None]] = {}
        for part, marks in _id_parts(photo_ids):
            for photo_id, sharp, edited in self._conn.execute(
                f"SELECT photo_id, sharpness, edited FROM keeper_facts WHERE photo_id IN ({marks})",
                part,
            ):
                out[photo_id] = (sharp, edited)
        return out

    def put_keeper_facts(self, rows: Iterable[tuple[int, float | None, float | None]]) -> None:
        """Store what was read; a NULL never replaces a value read before."""
        with self.transaction() as conn:
            conn.executemany(
                """INSERT INTO keeper_facts(photo_id, sharpness, edited) VALUES (?, ?, ?)
                   ON CONFLICT(photo_id) DO UPDATE SET
                   sharpness = COALESCE(excluded.sharpness, sharpness),
                   edited = COALESCE(excluded.edited, edited)""",
                list(rows),
            )

    def duplicate_links(
        self, recipe: str, below: float = float("inf"), among: Collection[int] | None = None
    ) -> list[tuple[int, int, float]]:
        """The stored duplicate links (photo id a, photo id b, rank) of a finder's recipe, those
        ranked below `below`; with `among`, only links between those photos (a folder's).

        A folder that is a small part of the store (a subfolder of a large library) reads the
        links of its own photos; otherwise every link of the rank range is read and filtered
        here, which is quicker than joining each to its photos (1.6 million links: 3 s read
        whole, 22 s joined)."""
        if among is not None and len(among) * 4 < self.count_photos():
            wanted = set(among)
            out: list[tuple[int, int, float]] = []
            for part, marks in _id_parts(wanted):
                out.extend(
                    row
                    for row in self._conn.execute(
                        # (the unary + keeps SQLite on the primary key: with the rank
                        # index it scanned every link of the recipe for each part)
                        f"""SELECT a, b, rank FROM duplicate_links
                            WHERE a IN ({marks}) AND +model = ? AND +rank < ?""",
                        (*part, recipe, below),
                    )
                    if row[1] in wanted
                )
            return out
        rows = self._conn.execute(
            "SELECT a, b, rank FROM duplicate_links WHERE model = ? AND rank < ?",
            (recipe, below),
        ).fetchall()
        if among is None:
            return rows
        wanted = among if isinstance(among, (set, frozenset, dict)) else set(among)
        return [row for row in rows if row[0] in wanted and row[1] in wanted]

    def duplicate_links_of(
        self, recipe: str, photo_ids: Iterable[int]
    ) -> list[tuple[int, int, float]]:
        """The stored duplicate links of a finder's recipe that touch these photos."""
        out: set[tuple[int, int, float]] = set()
        for part, marks in _id_parts(photo_ids, 400):  # (each id is asked twice)
            out.update(
                self._conn.execute(
                    f"""SELECT a, b, rank FROM duplicate_links WHERE model = ?
                        AND (a IN ({marks}) OR b IN ({marks}))""",
                    (recipe, *part, *part),
                ).fetchall()
            )
        return sorted(out)

    def duplicate_checked_under(self, folder: str | os.PathLike[str], recipe: str) -> set[int]:
        """Ids of the photos below `folder` whose duplicates were looked for among a folder
        holding all of `folder` (that folder itself or one above it)."""
        lo, hi = _prefix_range(folder)
        rows = self._conn.execute(
            """SELECT c.photo_id, c.scope FROM duplicate_checked c
               JOIN photos p ON p.id = c.photo_id
               WHERE c.model = ? AND p.path >= ? AND p.path < ?""",
            (recipe, lo, hi),
        )
        return {photo_id for photo_id, scope in rows if lo.startswith(bytes(scope))}

    def put_duplicate_links(
        self,
        recipe: str,
        model: str,
        links: Iterable[tuple[int, int, float]],
        checked: Iterable[int],
        scope: str | os.PathLike[str],
        as_read: Mapping[int, PhotoAsRead] | None = None,
    ) -> None:
        """Record links found and the photos whose duplicates were looked for in `scope`; links
        and marks of `model`'s other recipes (an older version, other thresholds) go.

        `as_read`: what the finder knew of each photo (`PhotoAsRead`). The finding took a while
        and the indexer or the trash may have changed the store meanwhile: a link or mark of a
        photo that is gone, has new content or has gained its latent since is not recorded
        (the photo is then looked at again next time)."""
        key = folder_prefix_key(scope)
        links, checked = list(links), list(checked)
        with self.transaction() as conn:
            pattern = _recipes_of(model)
            for table in ("duplicate_links", "duplicate_checked"):
                conn.execute(
                    f"DELETE FROM {table} WHERE model LIKE ? ESCAPE '\\' AND model != ?",
                    (pattern, recipe),
                )
            if as_read is not None:
                ends = {int(i) for a, b, _ in links for i in (a, b)} | {int(i) for i in checked}
                same = _unchanged(conn, model, ends, as_read)
                links = [x for x in links if int(x[0]) in same and int(x[1]) in same]
                checked = [i for i in checked if int(i) in same]
            conn.executemany(
                "INSERT OR REPLACE INTO duplicate_links(a, b, model, rank) VALUES (?, ?, ?, ?)",
                ((int(a), int(b), recipe, float(r)) for a, b, r in links),
            )
            conn.executemany(
                "INSERT OR REPLACE INTO duplicate_checked(photo_id, model, scope) VALUES (?, ?, ?)",
                ((int(i), recipe, key) for i in checked),
            )

    def count_photos(self) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM photos").fetchone()[0]

    # -- writing ----------------------------------------------------------------------------

    def upsert_photo(
        self,
        conn: sqlite3.Connection,
        path: str,
        size: int,
        mtime_ns: int,
        digest: bytes | None,
        width: int | None = None,
        height: int | None = None,
        taken: str | None = None,
    ) -> int:
        """Insert or refresh a photo row inside an open transaction; returns its id.

        When the file's content changed, the latents of every model are dropped: they
        described the old pixels.
        """
        key = path_to_key(path)
        old = conn.execute(
            "SELECT id, hash, size, mtime_ns FROM photos WHERE path = ?", (key,)
        ).fetchone()
        if old is None:
            cur = conn.execute(
                """INSERT INTO photos(path, size, mtime_ns, hash, width, height, taken)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (key, size, mtime_ns, digest, width, height, taken),
            )
            photo_id = int(cur.lastrowid)
        else:
            photo_id = int(old[0])
            if old[1] is not None and digest is not None:
                changed = old[1] != digest
            else:  # no digest to compare (e.g. dropped by schema 3): trust size and time
                changed = (old[2], old[3]) != (size, mtime_ns)
            if changed:
                conn.execute("DELETE FROM latents WHERE photo_id = ?", (photo_id,))
                conn.execute("DELETE FROM signatures WHERE photo_id = ?", (photo_id,))
                # Whose duplicate it was described the old pixels too.
                conn.execute(
                    "DELETE FROM duplicate_links WHERE a = ? OR b = ?", (photo_id, photo_id)
                )
                conn.execute("DELETE FROM duplicate_checked WHERE photo_id = ?", (photo_id,))
                conn.execute("DELETE FROM keeper_facts WHERE photo_id = ?", (photo_id,))
            conn.execute(
                """UPDATE photos SET size = ?, mtime_ns = ?, hash = ?,
                   width = COALESCE(?, width), height = COALESCE(?, height),
                   taken = COALESCE(?, taken) WHERE id = ?""",
                (size, mtime_ns, digest, width, height, taken, photo_id),
            )
        conn.execute("DELETE FROM failures WHERE path = ?", (key,))
        return photo_id

    @staticmethod
    def put_latent(conn: sqlite3.Connection, photo_id: int, model: str, vector: np.ndarray) -> None:
        import numpy as np

        blob = np.ascontiguousarray(vector, dtype=np.float32).tobytes()
        conn.execute(
            "INSERT OR REPLACE INTO latents(photo_id, model, vector) VALUES (?, ?, ?)",
            (photo_id, model, blob),
        )
        # Its duplicates were looked for without this latent (a grouping while the folder was
        # being re-encoded): crops and similar shots need it, so it is looked at again.
        conn.execute(
            "DELETE FROM duplicate_checked WHERE photo_id = ? AND model LIKE ? ESCAPE '\\'",
            (photo_id, _recipes_of(model)),
        )

    @staticmethod
    def put_signature(conn: sqlite3.Connection, photo_id: int, signature: bytes) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO signatures(photo_id, data) VALUES (?, ?)",
            (photo_id, signature),
        )

    def put_signatures(self, rows: Iterable[tuple[int, bytes]]) -> None:
        """Store signatures computed after indexing (photos indexed before they existed)."""
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO signatures(photo_id, data) VALUES (?, ?)", list(rows)
            )

    @staticmethod
    def move_photo(
        conn: sqlite3.Connection, photo_id: int, new_path: str, size: int, mtime_ns: int
    ) -> None:
        """A renamed or moved file keeps its row, hence its latents for every model."""
        key = path_to_key(new_path)
        conn.execute("DELETE FROM photos WHERE path = ? AND id != ?", (key, photo_id))
        conn.execute(
            "UPDATE photos SET path = ?, size = ?, mtime_ns = ? WHERE id = ?",
            (key, size, mtime_ns, photo_id),
        )
        conn.execute("DELETE FROM failures WHERE path = ?", (key,))

    @staticmethod
    def copy_latents(conn: sqlite3.Connection, source_id: int, target_id: int) -> None:
        """A copy of a known photo gets its latents without being decoded."""
        if source_id == target_id:
            return
        conn.execute(
            """INSERT OR REPLACE INTO latents(photo_id, model, vector)
               SELECT ?, model, vector FROM latents WHERE photo_id = ?""",
            (target_id, source_id),
        )
        conn.execute("DELETE FROM duplicate_checked WHERE photo_id = ?", (target_id,))
        conn.execute(
            """INSERT OR REPLACE INTO signatures(photo_id, data)
               SELECT ?, data FROM signatures WHERE photo_id = ?""",
            (target_id, source_id),
        )
        conn.execute(
            """UPDATE photos SET width = COALESCE(width, (SELECT width FROM photos WHERE id = ?)),
                  height = COALESCE(height, (SELECT height FROM photos WHERE id = ?)),
                  taken = COALESCE(taken, (SELECT taken FROM photos WHERE id = ?))
               WHERE id = ?""",
            (source_id, source_id, source_id, target_id),
        )

    @staticmethod
    def record_failure(
        conn: sqlite3.Connection, path: str, size: int, mtime_ns: int, reason: str
    ) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO failures(path, size, mtime_ns, reason) VALUES (?, ?, ?, ?)",
            (path_to_key(path), size, mtime_ns, reason),
        )

    def remove_paths(self, paths: Iterable[str]) -> int:
        """Forget photos (and failures) at these paths; their latents go with them."""
        keys = [(path_to_key(p),) for p in paths]
        if not keys:
            return 0
        with self.transaction() as conn:
            removed = conn.executemany("DELETE FROM photos WHERE path = ?", keys).rowcount
            conn.executemany("DELETE FROM failures WHERE path = ?", keys)
        return removed

    # -- model versions ------------------------------------------------------------------------

    def use_model_version(self, model: str, version: str) -> bool:
        """Record which version of `model` the stored latents come from; when it differs from
        `version`, forget that model's latents and maps first (returns True then), so latents of
        a replaced model are never ranked together with the new one's.

        The bookkeeping table is created here, not by a migration: any schema version can carry
        it. A model with no version recorded yet (a store written before versions were kept)
        adopts `version` without losing its latents: no shipped model changed under the same id
        before then, and re-encoding a large library for nothing is what a user would notice.
        """
        with self.transaction() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS model_versions("
                "model TEXT PRIMARY KEY, version TEXT NOT NULL)"
            )
            row = conn.execute(
                "SELECT version FROM model_versions WHERE model = ?", (model,)
            ).fetchone()
            if row is not None and row[0] == version:
                return False
            if row is None:
                conn.execute(
                    "INSERT INTO model_versions(model, version) VALUES (?, ?)", (model, version)
                )
                return False
            had = conn.execute("SELECT 1 FROM latents WHERE model = ? LIMIT 1", (model,)).fetchone()
            conn.execute("DELETE FROM latents WHERE model = ?", (model,))
            conn.execute("DELETE FROM projections WHERE model = ?", (model,))
            conn.execute(
                "INSERT OR REPLACE INTO model_versions(model, version) VALUES (?, ?)",
                (model, version),
            )
            return had is not None

    # -- projection cache (the map view) ------------------------------------------------------

    def get_projection(self, key: str) -> bytes | None:
        row = self._conn.execute("SELECT data FROM projections WHERE key = ?", (key,)).fetchone()
        return bytes(row[0]) if row else None

    def put_projection(self, key: str, model: str, data: bytes) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO projections(key, model, created, data) VALUES (?, ?, ?, ?)",
                (key, model, time.time(), data),
            )


def _unpack(rows: list[tuple[bytes, bytes]]) -> tuple[list[str], np.ndarray]:
    import numpy as np

    if not rows:
        return [], np.zeros((0, 0), np.float32)
    paths = [key_to_path(k) for k, _ in rows]
    blob = b"".join(v for _, v in rows)
    matrix = np.frombuffer(blob, dtype=np.float32).reshape(len(rows), -1)
    return paths, matrix


def _looks_damaged(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text or "corrupt" in text
