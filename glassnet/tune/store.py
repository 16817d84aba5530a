"""The search's records: one SQLite file (``trials.sqlite`` in the search folder), written only
by the driver, in WAL mode with a busy timeout, every change in its own transaction.

A trial row holds its key (stage and index), params, seed, epochs, status (pending, running,
done, failed, interrupted), the score, per-epoch metrics, the error of a failed run, the duration,
the checkpoint path and the number of attempts. A driver that was killed leaves rows "running":
``recover()`` (called when a search starts) puts them back to "pending" and counts the attempt,
so nothing is lost and nothing finished runs twice. A search whose proposals depend on the
results so far (TPE) does not re-run them: ``interrupt()`` marks them "interrupted" (they do not
count towards the trials asked for) and new proposals replace them.
"""
from __future__ import annotations

import json
import math
import os
import sqlite3
import time

from ..errors import SearchError

__all__ = ["TrialStore", "STATUSES", "FINISHED"]

STATUSES = ("done", "failed", "running", "pending", "interrupted")
#: what counts towards the number of trials a search was asked for
FINISHED = ("done", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY,
    key TEXT UNIQUE NOT NULL,
    stage INTEGER NOT NULL,
    params TEXT NOT NULL,
    seed INTEGER NOT NULL,
    epochs INTEGER,
    status TEXT NOT NULL,
    score REAL,
    metrics TEXT,
    error TEXT,
    duration REAL,
    checkpoint TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    updated REAL
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT);
"""


def _clean(x):
    """JSON-safe: NaN/inf become None."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


class TrialStore:
    """``TrialStore(path)`` opens (and with ``create``, makes) the search's SQLite file."""

    def __init__(self, path, create=True):
        self.path = os.fspath(path)
        if not create and not os.path.exists(self.path):
            raise SearchError(f"{self.path}: no such trials file")
        try:
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.db.execute("PRAGMA busy_timeout=30000")
            if create:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.executescript(_SCHEMA)
            else:
                self.db.execute("SELECT key FROM trials LIMIT 1").fetchall()
        except sqlite3.DatabaseError as err:
            raise SearchError(f"{self.path}: not a readable trials file ({err})") from None

    def close(self):
        self.db.close()

    # -- metadata (the search's identity, so a restart with another config is refused) ------------
    def get_meta(self, name):
        row = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_meta(self, name, value):
        self.db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, json.dumps(_clean(value))))

    # -- trials ---------------------------------------------------------------------------------------
    def add(self, key, stage, params, seed, epochs):
        """Insert a pending trial unless one with this key exists; returns True if inserted."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO trials (key, stage, params, seed, epochs, status, updated) "
            "VALUES (?, ?, ?, ?, ?, 'pending', ?)", (key, stage, json.dumps(_clean(params)), seed, epochs, time.time()))
        return cur.rowcount == 1

    def recover(self):
        """Trials left running by a dead driver go back to pending; returns how many."""
        cur = self.db.execute("UPDATE trials SET status = 'pending', error = 'the driver stopped while this trial "
                              "ran; re-queued', updated = ? WHERE status = 'running'", (time.time(),))
        return cur.rowcount

    def interrupt(self, key, note):
        """An unfinished trial that will not be re-run (another proposal replaces it)."""
        self.db.execute("UPDATE trials SET status = 'interrupted', error = ?, updated = ? WHERE key = ?",
                        (note, time.time(), key))

    def count(self, statuses=FINISHED):
        q = "SELECT COUNT(*) FROM trials WHERE status IN (" + ", ".join("?" for _ in statuses) + ")"
        return int(self.db.execute(q, tuple(statuses)).fetchone()[0])

    def mark_running(self, key):
        self.db.execute("UPDATE trials SET status = 'running', attempts = attempts + 1, updated = ? WHERE key = ?",
                        (time.time(), key))

    def finish(self, key, score, metrics, duration, checkpoint=None):
        self.db.execute("UPDATE trials SET status = 'done', score = ?, metrics = ?, duration = ?, checkpoint = ?, "
                        "error = NULL, updated = ? WHERE key = ?",
                        (score, json.dumps(_clean(metrics)), duration, checkpoint, time.time(), key))

    def fail(self, key, error, duration=None, metrics=None):
        self.db.execute("UPDATE trials SET status = 'failed', error = ?, duration = ?, metrics = ?, updated = ? "
                        "WHERE key = ?", (error, duration, json.dumps(_clean(metrics or {})), time.time(), key))

    def rows(self, status=None, stage=None):
        q = "SELECT key, stage, params, seed, epochs, status, score, metrics, error, duration, checkpoint, attempts " \
            "FROM trials"
        cond, args = [], []
        if status is not None:
            cond.append("status = ?")
            args.append(status)
        if stage is not None:
            cond.append("stage = ?")
            args.append(stage)
        if cond:
            q += " WHERE " + " AND ".join(cond)
        q += " ORDER BY id"
        out = []
        for r in self.db.execute(q, args).fetchall():
            out.append({"key": r[0], "stage": r[1], "params": json.loads(r[2]), "seed": r[3], "epochs": r[4],
                        "status": r[5], "score": r[6], "metrics": json.loads(r[7]) if r[7] else {},
                        "error": r[8], "duration": r[9], "checkpoint": r[10], "attempts": r[11]})
        return out
