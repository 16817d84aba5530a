"""Saving and loading without pickle: arrays in an ``.npz`` file, everything else as JSON
stored inside it, a SHA-256 checksum over both, and atomic writes.

    gn.save(model, "model.npz")          # weights, buffers and the architecture
    model = gn.load("model.npz")         # rebuilt without the user's code

Writes go to a temporary file in the same folder, are flushed and fsync'ed, then renamed
over the target, so a crash mid-write never leaves a half-written file where a good one was.
A truncated, corrupted or mismatched file is refused with a message that says what is wrong.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile

import numpy as np

from .backend import as_numpy

__all__ = ["CheckpointError", "save", "load", "write_archive", "read_archive", "atomic_write_bytes",
           "atomic_write_text", "atomic_savez"]

_META = "__meta__.json"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A model or checkpoint file is missing, truncated, corrupted or does not fit."""


def _fsync_dir(path):
    try:
        fd = os.open(os.path.dirname(os.path.abspath(path)) or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path, data: bytes):
    """Write ``data`` to ``path`` atomically: temp file, flush, fsync, rename."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(path)


def atomic_write_text(path, text: str):
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_savez(path, **arrays):
    """``np.savez`` to ``path``, atomically (no pickle is ever needed to read it back)."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def _digest(arrays: dict, meta_wo_checksum: str) -> str:
    h = hashlib.sha256()
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        h.update(key.encode())
        h.update(str(a.dtype).encode())
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    h.update(meta_wo_checksum.encode())
    return h.hexdigest()


def _to_json(obj):
    return json.dumps(obj, sort_keys=True, allow_nan=True, default=_json_default)


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"cannot store {type(o).__name__} in a checkpoint's JSON")


def write_archive(path, arrays: dict, meta: dict):
    """Atomically write ``arrays`` (name -> array) and ``meta`` (JSON-able) to one ``.npz``."""
    arrays = {k: as_numpy(v) for k, v in arrays.items()}
    for k, v in arrays.items():
        if v.dtype == object:
            raise TypeError(f"array {k!r} has dtype object; checkpoints hold numeric arrays only")
    meta = dict(meta, format_version=FORMAT_VERSION)
    body = _to_json(meta)
    meta = dict(meta, checksum=_digest(arrays, body))
    atomic_savez(path, **arrays, **{_META: np.frombuffer(_to_json(meta).encode("utf-8"), dtype=np.uint8)})


def read_archive(path):
    """Read and verify an archive written by ``write_archive``; returns (arrays, meta)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as z:
            files = list(z.files)
            if _META not in files:
                raise CheckpointError(f"{path}: not a glassnet file (no {_META} entry); was it written by "
                                      f"glassnet.save or a glassnet checkpoint?")
            arrays = {k: z[k] for k in files if k != _META}
            meta = json.loads(bytes(z[_META]).decode("utf-8"))
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: cannot be read ({type(err).__name__}: {err}); the file is "
                              f"truncated or corrupted") from None
    checksum = meta.pop("checksum", None)
    if checksum is None or checksum != _digest(arrays, _to_json(meta)):
        raise CheckpointError(f"{path}: checksum mismatch; the file was modified or corrupted after it "
                              f"was written")
    return arrays, meta


def _split(arrays, prefix):
    n = len(prefix)
    return {k[n:]: v for k, v in arrays.items() if k.startswith(prefix)}


def preprocessing_arrays_meta(preprocessing):
    """(arrays under ``prep/``, config) for a fitted Transformer, or ({}, None)."""
    if preprocessing is None:
        return {}, None
    return {f"prep/{k}": v for k, v in preprocessing.state_dict().items()}, preprocessing.config()


def preprocessing_from(arrays, meta):
    """Rebuild the fitted preprocessing stored by ``save``/checkpoints (or None)."""
    if not meta.get("preprocessing"):
        return None
    from .data.preprocessing import build_transformer

    prep = build_transformer(meta["preprocessing"])
    prep.load_state_dict(_split(arrays, "prep/"))
    return prep


def save(model, path, extra=None, preprocessing=None):
    """Save ``model`` (weights, buffers and architecture) to ``path`` (``.npz``), atomically.

    ``preprocessing`` is a fitted Transformer/Pipeline stored with the model (so predictions
    on raw inputs use the training statistics); ``extra`` is optional metadata (JSON-able
    values, or NumPy arrays), e.g. class names.
    """
    try:
        arch = model.config()
    except NotImplementedError as err:
        raise TypeError(f"glassnet.save: {err}; register the class with glassnet.nn.register and give it "
                        f"a config() method, or save model.state_dict() yourself") from None
    arrays = {f"model/{k}": v for k, v in model.state_dict().items()}
    extra_arrays = {}
    meta_extra = {}
    for k, v in (extra or {}).items():
        if isinstance(v, np.ndarray):
            extra_arrays[f"extra/{k}"] = v
        else:
            meta_extra[k] = v
    prep_arrays, prep_cfg = preprocessing_arrays_meta(preprocessing)
    write_archive(path, {**arrays, **extra_arrays, **prep_arrays},
                  {"kind": "model", "architecture": arch, "dtype": str(model.dtype), "extra": meta_extra,
                   "preprocessing": prep_cfg})


def load(path, return_extra=False, with_preprocessing=False):
    """Rebuild a model saved by ``save`` (or the model inside a training checkpoint).

    ``with_preprocessing=True`` returns (model, preprocessing or None);
    ``return_extra=True`` returns (model, extra) (both: (model, preprocessing, extra)).
    """
    from .nn.build import build

    arrays, meta = read_archive(path)
    if meta.get("kind") not in ("model", "checkpoint"):
        raise CheckpointError(f"{path}: holds a {meta.get('kind')!r}, not a model or checkpoint")
    if "architecture" not in meta or meta["architecture"] is None:
        raise CheckpointError(f"{path}: has no architecture; load its state into a model you build with "
                              f"model.load_state_dict")
    model = build(meta["architecture"])
    if meta.get("dtype") and meta["dtype"] != "None":
        model.to(np.dtype(meta["dtype"]))
    state = _split(arrays, "model/")
    try:
        model.load_state_dict(state, strict=True)
    except (KeyError, ValueError) as err:
        raise CheckpointError(f"{path}: the weights do not fit the stored architecture: {err}") from None
    out = [model]
    if with_preprocessing:
        out.append(preprocessing_from(arrays, meta))
    if return_extra:
        extra = dict(meta.get("extra", {}))
        extra.update(_split(arrays, "extra/"))
        out.append(extra)
    return out[0] if len(out) == 1 else tuple(out)
