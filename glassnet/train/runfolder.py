"""Run and search folders: never overwritten silently, never written by two processes at once.

- ``fresh_folder(parent, name)``: ``runs/<name>-<YYYYmmdd-HHMMSS>`` (``-2``, ``-3``, ... when that
  exists), for runs started without an explicit folder.
- ``claim_run_folder(path, resume, force)``: an explicit folder that already holds a run is
  refused unless the run is resumed (``resume``) or replaced (``force``: glassnet's own files in
  it are removed first, so old and new checkpoints never mix; other files are left alone).
- ``FolderLock(path)``: a lock file created atomically (``O_CREAT | O_EXCL``) holding the
  process id, host and command. A second process gets a RunFolderError ("in use by process N");
  the lock of a process that no longer runs (killed, machine rebooted) is taken over, with a
  message. The lock goes when the holder exits the ``with`` block, whatever ends it.
- ``read_run_file(folder, name, required)``: one of a run folder's JSON files, the one way every
  command (report, compare, doctor, --try-fix, --resume) reads them: a missing file is None when
  optional and a DataNotFoundError when required; a damaged one is always a RunFolderError.
"""
from __future__ import annotations

import datetime
import json
import os
import re
import socket
import sys
import time

from ..errors import DataNotFoundError, RunFolderError

__all__ = ["FolderLock", "fresh_folder", "claim_run_folder", "read_run_file", "RUN_FILES", "LOCK_NAME"]

LOCK_NAME = ".glassnet.lock"
#: what a run writes into its folder (``--force`` removes these, nothing else)
RUN_FILES = ("config.json", "history.json", "metrics.json", "model.npz", "monitor.json", "findings.json",
             "report.html")
_CHECKPOINT = re.compile(r"^(epoch\d+-.*|best|last)\.npz$")


def read_run_file(folder, name: str, required: bool = True):
    """The parsed JSON file ``name`` of the run folder ``folder``. A missing file: None when not
    ``required``, else a DataNotFoundError naming the folder and the file. A file that is not valid
    JSON (or not UTF-8): a RunFolderError naming it, whether required or not; never silently None."""
    path = os.path.join(os.fspath(folder), name)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        if not required:
            return None
        if not os.path.isdir(folder):
            raise DataNotFoundError(f"{folder}: no such folder") from None
        raise DataNotFoundError(f"{folder}: has no {name}; is it a run folder written by 'glassnet train' or "
                                f"'glassnet demo'?") from None
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError
        raise RunFolderError(f"{path}: not valid JSON ({err}); the file is damaged") from None


def _slug(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return slug[:60] or "run"


def fresh_folder(parent, name, now=None) -> str:
    """A folder name under ``parent`` that does not exist yet: ``<name>-<date>-<time>``."""
    stamp = (now or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = os.path.join(os.fspath(parent), f"{_slug(name)}-{stamp}")
    path, k = base, 2
    while os.path.exists(path):
        path, k = f"{base}-{k}", k + 1
    return path


def holds_run(path) -> bool:
    """True when ``path`` holds files of a glassnet run."""
    path = os.fspath(path)
    if not os.path.isdir(path):
        return False
    if any(os.path.exists(os.path.join(path, f)) for f in RUN_FILES):
        return True
    ckpt = os.path.join(path, "checkpoints")
    return os.path.isdir(ckpt) and any(_CHECKPOINT.match(f) for f in os.listdir(ckpt))


def claim_run_folder(path, resume=False, force=False, command="glassnet train"):
    """Refuse a folder that holds a run unless resuming or forcing; with ``force`` remove the
    old run's files (only glassnet's own) so that nothing of it mixes with the new one."""
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise RunFolderError(f"{path}: exists and is not a folder; pick another --out")
    if resume or not holds_run(path):
        return
    if not force:
        raise RunFolderError(f"{path} already holds a run; resume it with: glassnet train --resume {path}, "
                             f"replace it with: {command} ... --out {path} --force, or pick another --out")
    for f in RUN_FILES:
        p = os.path.join(path, f)
        if os.path.exists(p):
            os.remove(p)
    ckpt = os.path.join(path, "checkpoints")
    if os.path.isdir(ckpt):
        for f in os.listdir(ckpt):
            if _CHECKPOINT.match(f):
                os.remove(os.path.join(ckpt, f))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    except OSError:
        return False
    return True


class FolderLock:
    """``with FolderLock(folder, "run"):`` holds ``folder/.glassnet.lock`` for this process."""

    def __init__(self, folder, what="run", stream=None):
        self.folder = os.fspath(folder)
        self.path = os.path.join(self.folder, LOCK_NAME)
        self.what = what
        self.stream = stream
        self.held = False

    def _owner(self):
        try:
            with open(self.path, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def acquire(self):
        os.makedirs(self.folder, exist_ok=True)
        body = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                           "command": " ".join(sys.argv)[:300]}).encode()
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
            except FileExistsError:
                owner = self._owner()
                if owner is None:  # being written this instant, or damaged: look again shortly
                    time.sleep(0.1)
                    owner = self._owner()
                if owner is None and self._age() < 10:
                    raise RunFolderError(f"{self.folder}: this {self.what} folder is being locked by another "
                                         f"process; wait for it to finish or use another folder")
                pid = owner.get("pid") if isinstance(owner, dict) else None
                same_host = isinstance(owner, dict) and owner.get("host") == socket.gethostname()
                if pid == os.getpid() and same_host:  # this process holds it already (an outer block)
                    return self
                if isinstance(pid, int) and (not same_host or _alive(pid)):
                    where = "" if same_host else f" on {owner.get('host')}"
                    since = time.strftime("%Y-%m-%d %H:%M", time.localtime(owner.get("started", 0)))
                    raise RunFolderError(
                        f"{self.folder}: this {self.what} folder is in use by process {pid}{where} (since {since}: "
                        f"{owner.get('command', '?')}); wait for it to finish or use another folder")
                self._take_over(owner, pid)
                continue
            with os.fdopen(fd, "wb") as f:
                f.write(body)
            self.held = True
            return self
        raise RunFolderError(f"{self.folder}: could not lock this {self.what} folder (another process keeps "
                             f"taking it)")

    def _age(self):
        try:
            return time.time() - os.stat(self.path).st_mtime
        except OSError:
            return 0.0

    def _take_over(self, owner, pid):
        """Remove the lock of a process that no longer runs. The file is renamed first (atomic: of
        two processes doing this, one wins); if what was renamed is not the stale lock (another
        process took it over meanwhile), it is put back."""
        stale = f"{self.path}.stale-{os.getpid()}"
        try:
            os.rename(self.path, stale)
        except FileNotFoundError:
            return
        try:
            with open(stale, encoding="utf-8") as f:
                renamed = json.load(f)
        except (OSError, ValueError):
            renamed = None
        if renamed != owner:
            try:
                os.link(stale, self.path)
            except FileExistsError:
                pass
        else:
            print(f"note: taking over the lock of {self.folder}, left by process {pid} which no longer runs",
                  file=self.stream or sys.stderr)
        os.remove(stale)

    def release(self):
        if not self.held:
            return
        owner = self._owner()
        if isinstance(owner, dict) and owner.get("pid") == os.getpid():
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass
        self.held = False

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False
