"""The search's records: one SQLite file (``trials.sqlite`` in the search folder), written only
by the driver, in WAL mode with a busy timeout, every change in its own transaction.

A trial row holds its key (stage and index), params, seed, epochs, status (pending, running,
done, failed), the score, per-epoch metrics, the error of a failed run, the duration, the
checkpoint path and the number of attempts. A driver that was killed leaves rows "running":
``recover()`` (called when a search starts) puts them back to "pending" and counts the attempt,
so nothing is lost and nothing finished runs twice.
"""
from __future__ import annotations

import json
import math
import os
import sqlite3
import time

__all__ = ["TrialStore"]

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
    def __init__(self, path):
        self.path = os.fspath(path)
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA busy_timeout=30000")
        self.db.executescript(_SCHEMA)

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
