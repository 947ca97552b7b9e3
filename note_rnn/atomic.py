"""Atomic file and directory writes (a reader sees the old version or the new one, never half),
and the reading side of the JSON files of run directories."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import shutil
import tempfile

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path: str, data: bytes) -> None:
    """Writes ``data`` to ``path`` through a temporary file and an atomic rename."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def write_json(path: str, obj) -> None:
    """Writes ``obj`` as indented JSON, atomically (NaN is written as null)."""
    write_bytes(path, (json.dumps(_nan_to_none(obj), indent=2, sort_keys=False) + "\n").encode())


def read_json(path: str):
    """Returns the JSON content of ``path``, or None when there is no such file."""
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def changed_settings(path: str, config, keys) -> dict:
    """Compares a config dataclass with the one a run stored as JSON at ``path``.

    Args:
      path: the run's stored config (no file: nothing changed).
      config: the dataclass of the new run.
      keys: the fields to compare.

    Returns:
      {field: (stored value, new value)} for every differing field in ``keys``.
    """
    old = read_json(path)
    if old is None:
        return {}
    new = json.loads(json.dumps(dataclasses.asdict(config)))  # tuples as lists, like the stored file
    return {k: (old.get(k), new.get(k)) for k in keys if old.get(k) != new.get(k)}


def write_npz(path: str, **arrays) -> None:
    """Writes a compressed ``.npz`` atomically."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    write_bytes(path, buf.getvalue())


@contextlib.contextmanager
def directory(path: str):
    """Yields a temporary directory that replaces ``path`` when the block succeeds.

    On an exception the temporary directory is removed and ``path`` is left untouched.
    """
    path = os.path.abspath(path)
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.tmp-", dir=parent)
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if os.path.exists(path):
        old = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.old-", dir=parent)
        os.rmdir(old)
        os.replace(path, old)
    os.replace(tmp, path)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def _nan_to_none(obj):
    if isinstance(obj, float) and obj != obj:
        return None
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_nan_to_none(v) for v in obj]
    if isinstance(obj, np.generic):
        return _nan_to_none(obj.item())
    return obj
