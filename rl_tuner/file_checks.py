"""Reading a user's files with one-line errors that name the file and what is wrong with it.

Checkpoints and data sets arrive by download, copy or ``git clone``: they can be empty,
truncated, corrupt, a git-lfs pointer instead of the file, malformed JSON, or hold NaN
weights. Each reader here raises ``ValueError`` (``FileNotFoundError`` when the file is
missing) with a message of the form ``<path>: <what is wrong>``, so that the command line
prints ``error: ...`` instead of a traceback, and nothing is computed from a broken file.

No TensorFlow here; NumPy and the standard library only.
"""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np

# The first line of every git-lfs pointer file (https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md).
LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/"
LFS_POINTER_MAX_BYTES = 1024  # the spec: pointer files are < 1024 bytes
LFS_HINT = "it is a git-lfs pointer, not the file itself (fetch the real file with `git lfs pull`)"


def is_lfs_pointer(path: str) -> bool:
    """True if ``path`` is a small file starting with the git-lfs pointer header."""
    try:
        if os.path.getsize(path) >= LFS_POINTER_MAX_BYTES:
            return False
        with open(path, "rb") as f:
            return f.read(len(LFS_POINTER_PREFIX)) == LFS_POINTER_PREFIX
    except OSError:
        return False


def not_a_regular_file(path: str) -> str | None:
    """Why an existing ``path`` cannot be read as a file, or None (a regular file, or nothing there).

    Reading a FIFO or a device such as ``/dev/zero`` would block or never end, so callers
    refuse them before opening.
    """
    if os.path.isdir(path):
        return "it is a directory, not a file"
    if os.path.exists(path) and not os.path.isfile(path):
        return "it is not a regular file (a FIFO, device or socket)"
    return None


def check_file(path: str, what: str = "file") -> None:
    """Raises unless ``path`` is a non-empty regular file that is not a git-lfs pointer.

    Args:
      path: the file.
      what: what the file should be, for the message (e.g. "checkpoint config").

    Raises:
      FileNotFoundError: if there is no file at ``path``.
      ValueError: if it is empty or a git-lfs pointer.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such {what}")
    if os.path.getsize(path) == 0:
        raise ValueError(f"{path}: the {what} is empty (0 bytes; an interrupted download or copy?)")
    if is_lfs_pointer(path):
        raise ValueError(f"{path}: {LFS_HINT}")


def read_json(path: str, what: str = "JSON file", expect: type = dict):
    """Reads a JSON file whose top level must be of type ``expect``.

    Args:
      path: the file.
      what: what the file should be, for the message.
      expect: the type of the top-level value (dict or list).

    Returns:
      The parsed value.

    Raises:
      FileNotFoundError: if the file is missing.
      ValueError: if it is empty, a git-lfs pointer, not UTF-8, not valid JSON (the message
        gives line and column) or of the wrong top-level type.
    """
    check_file(path, what)
    try:
        with open(path, "rb") as f:
            value = json.loads(f.read().decode("utf-8-sig"))  # a byte-order mark is not an error
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: the {what} is not UTF-8 text ({e.reason} at byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: the {what} is not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") \
            from None
    except RecursionError:
        raise ValueError(f"{path}: the {what} is nested too deeply to be valid") from None
    if not isinstance(value, expect):
        raise ValueError(f"{path}: the {what} must hold a JSON {_json_type(expect)}, "
                         f"got {_json_type(type(value))}")
    return value


def _json_type(tp) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number",
            float: "number", type(None): "null"}.get(tp, tp.__name__)


def load_npz(path: str, what: str = "array archive") -> dict[str, np.ndarray]:
    """Reads every array of an ``.npz`` archive, checking the whole file.

    Every member is decompressed and its CRC checked here, so a truncated or corrupt
    archive fails now rather than when an array is first used.

    Args:
      path: the ``.npz`` file.
      what: what the file should be, for the message.

    Returns:
      {name: array}.

    Raises:
      FileNotFoundError: if the file is missing.
      ValueError: if it is empty, a git-lfs pointer, not a zip archive, truncated or
        corrupt, or holds pickled objects.
    """
    check_file(path, what)
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except ValueError as e:
        if "pickle" in str(e):
            raise ValueError(f"{path}: the {what} holds pickled Python objects, not plain arrays; "
                             "refusing to unpickle it") from None
        raise ValueError(f"{path}: the {what} is corrupt ({e})") from None
    except (zipfile.BadZipFile, EOFError, OSError, KeyError) as e:
        size = os.path.getsize(path)
        raise ValueError(f"{path}: the {what} is truncated or corrupt ({size} bytes; "
                         f"{type(e).__name__}: {e}); download or copy it again") from None


def describe_files(paths) -> str:
    """Returns ``path (N bytes)`` for each file (just ``path`` if it is gone), comma-separated."""
    return ", ".join(f"{p} ({os.path.getsize(p)} bytes)" if os.path.isfile(p) else str(p) for p in paths)


def check_finite(arrays: dict, path: str) -> None:
    """Raises ValueError naming ``path`` and the first array holding NaN or infinity.

    Args:
      arrays: {name: array} of numeric arrays.
      path: the file the arrays came from.
    """
    for name, value in arrays.items():
        value = np.asarray(value)
        if value.dtype.kind not in "fc":
            continue
        bad = np.size(value) - int(np.count_nonzero(np.isfinite(value)))
        if bad:
            nan = int(np.count_nonzero(np.isnan(value)))
            raise ValueError(f"{path}: weight {name} holds {nan} NaN and {bad - nan} infinite value(s) "
                             f"out of {np.size(value)}; the checkpoint is unusable")
