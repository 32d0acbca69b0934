"""The queue's SQLite file: opening it safely, its schema, decoding its rows.

Everything here runs in Home Assistant's executor.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
import logging
import os
from pathlib import Path
import sqlite3
import time
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import threading

_LOGGER: Final = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 1

SELECT_ITEMS: Final = (
    "SELECT seq, key, payload, enqueued_at, attempts, attempted_at, batch"
    " FROM items WHERE outbox = ? ORDER BY seq"
)

SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    (
        "CREATE TABLE IF NOT EXISTS items ("
        " outbox TEXT NOT NULL, seq INTEGER NOT NULL, key TEXT NOT NULL,"
        " payload TEXT NOT NULL, enqueued_at REAL NOT NULL,"
        " attempts INTEGER NOT NULL DEFAULT 0, attempted_at REAL, batch TEXT,"
        " PRIMARY KEY (outbox, seq))"
    ),
    "CREATE TABLE IF NOT EXISTS sends (outbox TEXT NOT NULL, at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS sends_by_outbox ON sends (outbox, at)",
    (
        "CREATE TABLE IF NOT EXISTS pauses ("
        " outbox TEXT PRIMARY KEY, until REAL NOT NULL, reason TEXT NOT NULL)"
    ),
)


@dataclass(frozen=True, slots=True)
class StoredItem:
    """One message as the durable queue holds it."""

    seq: int
    key: str
    payload: dict[str, Any]
    enqueued_at: float
    attempts: int
    attempted: bool
    """A request was recorded for it and no outcome after: it may have arrived."""
    batch: str | None


@dataclass(frozen=True, slots=True)
class OpenProblem:
    """Why the database could not be used as it was found."""

    reason: str
    """"corrupt" (moved aside, a new one started) or "unavailable" (in memory)."""
    moved_to: str | None


def dumps(payload: dict[str, Any]) -> str:
    """Encode a payload compactly (executor)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def decode_row(row: tuple[object, ...]) -> StoredItem | None:
    """Decode one row of SELECT_ITEMS; None when it is damaged."""
    seq, key, payload, enqueued_at, attempts, attempted_at, batch = row
    try:
        data = json.loads(payload) if isinstance(payload, str) else None
    except ValueError:
        data = None
    if (
        not isinstance(data, dict)
        or not isinstance(seq, int)
        or not isinstance(key, str)
        or not isinstance(enqueued_at, int | float)
        or not isinstance(attempts, int)
        or not (batch is None or isinstance(batch, str))
    ):
        return None
    return StoredItem(
        seq=seq,
        key=key,
        payload=data,
        enqueued_at=float(enqueued_at),
        attempts=attempts,
        attempted=attempted_at is not None,
        batch=batch,
    )


def _check(conn: sqlite3.Connection) -> None:
    """Raise DatabaseError unless the file is sound and of our schema."""
    check = conn.execute("PRAGMA quick_check").fetchone()
    if check is None or check[0] != "ok":
        raise sqlite3.DatabaseError(f"quick_check: {check}")
    for statement in SCHEMA:
        conn.execute(statement)
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    if row is None:
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('schema', ?)",
            (str(SCHEMA_VERSION),),
        )
    elif row[0] != str(SCHEMA_VERSION):
        raise sqlite3.DatabaseError(f"unknown schema version {row[0]}")


def connect(path: str) -> sqlite3.Connection:
    """Open the file private (0600), in WAL mode with durable commits."""
    if path != ":memory:" and not Path(path).exists():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=5000")
        _check(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def open_database(path: str) -> tuple[sqlite3.Connection, OpenProblem | None]:
    """Open the queue; move a damaged file aside; fall back to memory (executor).

    SQLite removes the file's -wal and -shm companions when the failed connection
    closes, so only the file itself is moved.
    """
    try:
        return connect(path), None
    except (sqlite3.DatabaseError, OSError) as err:
        _LOGGER.debug("Cannot open %s: %s", path, err)
    moved = f"{path}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        Path(path).rename(moved)
        return connect(path), OpenProblem("corrupt", moved)
    except (OSError, sqlite3.DatabaseError) as err:
        _LOGGER.debug("Cannot replace %s: %s", path, err)
    return connect(":memory:"), OpenProblem("unavailable", None)


def close_database(conn: sqlite3.Connection, lock: threading.Lock) -> None:
    """Close the connection once no transaction runs (executor)."""
    with lock:
        conn.close()
