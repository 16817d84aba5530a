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
import secrets
import warnings
import zipfile

import numpy as np

from .backend import as_numpy
from .errors import CheckpointError, one_line

__all__ = ["CheckpointError", "save", "load", "write_archive", "read_archive", "atomic_write_bytes",
           "atomic_write_text", "atomic_savez"]

_META = "__meta__.json"
FORMAT_VERSION = 1




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
    """Write ``data`` to ``path`` atomically: temp file, flush, fsync, rename. The file gets the
    permissions of any new file (0666 less the umask), as ``open`` would give it."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    for _ in range(100):
        tmp = os.path.join(folder, f".tmp-{os.getpid()}-{secrets.token_hex(4)}-{os.path.basename(path)}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
            break
        except FileExistsError:
            continue
    else:
        raise OSError(f"{folder}: cannot create a temporary file next to {os.path.basename(path)}")
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


#: a file's metadata (JSON) may not be larger or nest deeper than this
MAX_META_BYTES = 16 << 20
MAX_META_DEPTH = 100
#: the largest ratio of a member's declared size to its stored size (deflate's own limit is ~1032)
_MAX_INFLATE = 1100


def _depth(obj, limit):
    """The nesting depth of a JSON value, without recursion (stops counting at ``limit``)."""
    depth, level = 0, [obj]
    while level and depth <= limit:
        depth += 1
        level = [v for o in level if isinstance(o, (dict, list))
                 for v in (o.values() if isinstance(o, dict) else o)]
        level = [v for v in level if isinstance(v, (dict, list))]
    return depth


def _read_member(zf, info, path):
    """One .npy member, its header checked against the member's size before anything is read."""
    import numpy.lib.format as fmt

    with zf.open(info) as f:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = fmt.read_array_header_2_0(f)
        else:
            raise CheckpointError(f"{path}: member {info.filename!r} has an unknown .npy version {version}")
        header = f.tell()
    if dtype.hasobject or dtype.kind not in "fiub" or dtype.fields is not None:
        raise CheckpointError(f"{path}: member {info.filename!r} holds {dtype} values; glassnet files hold real "
                              f"numbers only")
    count = 1
    for d in shape:
        count *= int(d)
    if header + count * dtype.itemsize != info.file_size:
        raise CheckpointError(f"{path}: member {info.filename!r} claims shape {tuple(shape)} of {dtype} "
                              f"({count * dtype.itemsize} bytes) but holds {info.file_size - header}; the file is "
                              f"corrupted or crafted")
    with zf.open(info) as f:
        return fmt.read_array(f, allow_pickle=False)


def read_archive(path):
    """Read and verify an archive written by ``write_archive``; returns (arrays, meta).

    A file from elsewhere is bounded by its own size: every member's .npy header (shape and
    dtype) must match the member's size before it is read, sizes must match what the zip stores,
    the metadata is capped in size and nesting, and only real-number arrays are accepted. Any
    failure to read is a CheckpointError naming the file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no such file")
    if os.path.isdir(path):
        raise CheckpointError(f"{path}: is a folder, not a model file (a run folder's model is {path}/model.npz)")
    try:
        size = os.path.getsize(path)
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = [i.filename for i in infos]
            if len(set(names)) != len(names):
                raise CheckpointError(f"{path}: holds a member twice; the file is corrupted or crafted")
            meta_name = _META + ".npy"
            if meta_name not in names:
                raise CheckpointError(f"{path}: not a glassnet file (no {_META} entry); was it written by "
                                      f"glassnet.save or a glassnet checkpoint?")
            declared = 0
            for info in infos:
                if not info.filename.endswith(".npy") or info.compress_type not in (zipfile.ZIP_STORED,
                                                                                    zipfile.ZIP_DEFLATED):
                    raise CheckpointError(f"{path}: member {info.filename!r} is not a plain .npy array")
                ratio = 1 if info.compress_type == zipfile.ZIP_STORED else _MAX_INFLATE
                if info.file_size > ratio * info.compress_size + 1024:
                    raise CheckpointError(f"{path}: member {info.filename!r} claims {info.file_size} bytes from "
                                          f"{info.compress_size} stored; the file is corrupted or crafted")
                declared += info.file_size
            if declared > _MAX_INFLATE * size + 1024:
                raise CheckpointError(f"{path}: its members claim {declared} bytes in a file of {size}")
            meta_info = zf.getinfo(meta_name)
            if meta_info.file_size > MAX_META_BYTES:
                raise CheckpointError(f"{path}: metadata of {meta_info.file_size} bytes (more than "
                                      f"{MAX_META_BYTES}); not a glassnet file")
            raw = _read_member(zf, meta_info, path)
            if raw.dtype != np.uint8 or raw.ndim != 1:
                raise CheckpointError(f"{path}: the metadata entry is not JSON text")
            meta = json.loads(bytes(raw).decode("utf-8"))
            if not isinstance(meta, dict):
                raise CheckpointError(f"{path}: the metadata is not a table")
            if _depth(meta, MAX_META_DEPTH) > MAX_META_DEPTH:
                raise CheckpointError(f"{path}: the metadata nests deeper than {MAX_META_DEPTH} levels; not a "
                                      f"glassnet file")
            arrays = {}
            for info in infos:
                if info.filename != meta_name:
                    arrays[info.filename[:-len(".npy")]] = _read_member(zf, info, path)
    except CheckpointError:
        raise
    except RecursionError:
        raise CheckpointError(f"{path}: the metadata nests too deeply; not a glassnet file") from None
    except Exception as err:  # zip and npy readers raise many kinds on damaged input: all mean the same
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
    from .nn.module import Module

    if not isinstance(model, Module):
        raise TypeError(f"glassnet.save: expected a glassnet Module (a layer or a model), got "
                        f"{type(model).__name__}")
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


def load(path, return_extra=False, with_preprocessing=None):
    """Rebuild a model saved by ``save`` (or the model inside a training checkpoint).

    ``with_preprocessing=True`` returns (model, preprocessing or None);
    ``return_extra=True`` returns (model, extra) (both: (model, preprocessing, extra)).
    A file that stores fitted preprocessing, loaded without saying ``with_preprocessing``,
    gives a warning: the model alone expects preprocessed inputs.
    """
    from .nn.build import build
    from .nn.module import parameter_limit

    arrays, meta = read_archive(path)
    if meta.get("kind") not in ("model", "checkpoint"):
        raise CheckpointError(f"{path}: holds a {meta.get('kind')!r}, not a model or checkpoint")
    if "architecture" not in meta or meta["architecture"] is None:
        raise CheckpointError(f"{path}: has no architecture; load its state into a model you build with "
                              f"model.load_state_dict")
    if not isinstance(meta["architecture"], dict):
        raise CheckpointError(f"{path}: the stored architecture is not a table (got {type(meta['architecture']).__name__})")
    dtype = meta.get("dtype")
    if dtype not in (None, "None", "float16", "float32", "float64"):
        raise CheckpointError(f"{path}: stores the dtype {dtype!r}; models are float16, float32 or float64")
    state = _split(arrays, "model/")
    stored = sum(int(v.size) for v in state.values())
    try:
        with parameter_limit(stored):  # the architecture may not be larger than the weights stored with it
            model = build(meta["architecture"])
    except (ValueError, TypeError, KeyError) as err:
        raise CheckpointError(f"{path}: the stored architecture cannot be built: {one_line(err)}") from None
    if dtype not in (None, "None"):
        model.to(np.dtype(dtype))
    try:
        model.load_state_dict(state, strict=True)
    except (KeyError, ValueError) as err:
        raise CheckpointError(f"{path}: the weights do not fit the stored architecture: {one_line(err)}") from None
    out = [model]
    if with_preprocessing:
        out.append(preprocessing_from(arrays, meta))
    elif with_preprocessing is None and meta.get("preprocessing"):
        prep = meta["preprocessing"]
        kind = " + ".join(s.get("type", "?") for s in prep.get("steps", [])) if prep.get("type") == "Pipeline" \
            else prep.get("type")
        warnings.warn(f"{path} stores fitted preprocessing ({kind}) that the model "
                      f"expects applied to its inputs; load it too with glassnet.load(path, with_preprocessing=True) "
                      f"(with_preprocessing=False silences this)", UserWarning, stacklevel=2)
    if return_extra:
        extra = dict(meta.get("extra", {}))
        extra.update(_split(arrays, "extra/"))
        out.append(extra)
    return out[0] if len(out) == 1 else tuple(out)
