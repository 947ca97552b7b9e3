"""Reading a user's files with one-line errors that name the file and what is wrong with it.

Checkpoints and data sets arrive by download, copy or ``git clone``: they can be empty,
truncated, corrupt, a git-lfs pointer instead of the file, malformed JSON, or hold NaN
weights. Each reader here raises ``ValueError`` (``FileNotFoundError`` when the file is
missing) with a message of the form ``<path>: <what is wrong>``, so that the command line
prints ``error: ...`` instead of a traceback, and nothing is computed from a broken file.

What a path is comes first: :func:`path_problem` names a FIFO, socket, device, directory,
symbolic-link loop, dangling symbolic link or unreadable file given where a file (or a
folder) is read, and every loader of the three commands asks it before it says that a path
"does not exist" (:func:`check_path`). Text inputs are streamed by :func:`text_lines`, which
caps a line's length (:data:`MAX_LINE_CHARS`), what a compressed file may expand to
(:data:`MAX_DECOMPRESSED_BYTES`) and how many lines one input may hold (:data:`MAX_LINES`).

No TensorFlow here; NumPy and the standard library only.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import json
import os
import stat
import zipfile
from typing import Iterator, Optional, Sequence, Tuple

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


_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def path_problem(path: str, kind: str = "file") -> str | None:
    """Why ``path`` cannot be read as an input of ``kind``, in words; None if it can, or if
    nothing at all is there (the caller says "does not exist" in its own words).

    Reading a FIFO or a device such as ``/dev/zero`` would block or never end, so callers
    refuse them before opening; a symbolic-link loop or a dangling link looks like a missing
    file to ``os.path.exists`` and is named here instead.

    Args:
      path: the input path.
      kind: "file" (a regular file), "dir" (a folder) or "any" (either: a checkpoint may be
        a folder or a file prefix).

    Returns:
      e.g. ``"it is a FIFO (named pipe), not a file"``, ``"it is a directory, not a file"``,
      ``"it is a symbolic link loop"``, ``"it is a symbolic link to 'x', which does not
      exist"``, ``"it is not readable (permission denied)"``, or None.
    """
    wanted = {"file": "a file", "dir": "a folder", "any": "a file or folder"}[kind]
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        if e.errno == errno.ELOOP:
            return ("it is a symbolic link loop (too many levels of symbolic links)" if os.path.islink(path)
                    else "a symbolic link on its way loops (too many levels of symbolic links)")
        if os.path.islink(path):
            return f"it is a symbolic link to {os.readlink(path)!r}, which does not exist"
        if e.errno == errno.ENOTDIR:
            return "a part of its path is a file, not a folder"
        if e.errno == errno.ENOENT:
            return None
        return f"it cannot be examined ({e.strerror})"
    if stat.S_ISDIR(mode):
        if kind == "file":
            return "it is a directory, not a file"
    elif stat.S_ISREG(mode):
        if kind == "dir":
            return "it is a file, not a folder"
    else:
        what = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        return f"it is {what}, not {wanted}"
    if not os.access(path, os.R_OK | (os.X_OK if stat.S_ISDIR(mode) else 0)):
        return "it is not readable (permission denied)"
    return None


def check_path(path: str, kind: str = "file") -> None:
    """Raises ValueError ``"PATH: <what it is>"`` when :func:`path_problem` finds one
    (nothing there is not an error here: the caller names the missing input its own way).

    Args:
      path: the input path.
      kind: "file", "dir" or "any" (see :func:`path_problem`).

    Raises:
      ValueError: e.g. ``"in.smi: it is a FIFO (named pipe), not a file"``.
    """
    problem = path_problem(path, kind)
    if problem:
        raise ValueError(f"{path}: {problem}")


def not_a_regular_file(path: str) -> str | None:
    """Why ``path`` cannot be read as a file, or None (a readable regular file, or nothing
    there): :func:`path_problem` with kind "file"."""
    return path_problem(path, "file")


def some_of(names: Sequence[str], shown: int = 8) -> str:
    """At most ``shown`` names, comma-separated, and how many more: ``"a, b, c and 999,997 more"``."""
    head = ", ".join(str(n) for n in names[:shown])
    return head + (f" and {len(names) - shown:,} more" if len(names) > shown else "")


# Longest line of a text input (characters, the line end excluded). A SMILES or a CSV row of a
# real data set is far shorter (MOSES: 57 characters); one line must not hold a whole file in
# memory. Python's csv module refuses fields over 131,072 characters by default: text_lines
# raises its limit to this one.
MAX_LINE_CHARS = 2**20
# What a compressed input may expand to (1 GiB; MOSES's training CSV is about 80 MB). A
# decompression bomb (13 MB of gzip expanding to 3 GB) is refused when the stream reaches it.
MAX_DECOMPRESSED_BYTES = 2**30
# Most lines one text input may hold (10 million; MOSES has about 1.9 million molecules). The
# readers keep every line (and `molecules score` a record per line), so 300 MiB of "C\n" (157
# million lines, 306 KB of gzip, under the decompression cap) grew past 8.5 GB before this cap;
# it is refused when line MAX_LINES + 1 is read, with memory still bounded.
MAX_LINES = 10_000_000
COMPRESSED_SUFFIXES = (".gz",)


class _CappedStream(io.RawIOBase):
    """A binary stream that raises ValueError naming ``name`` after ``limit`` bytes."""

    def __init__(self, stream, name: str, limit: int):
        super().__init__()
        self._stream, self._name, self._limit, self._total = stream, name, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self._stream.readinto(buffer)
        self._total += n or 0
        if self._total > self._limit:
            raise ValueError(f"{self._name}: expands to more than {self._limit:,} bytes when decompressed "
                             f"(rl_tuner.plumbing.file_checks.MAX_DECOMPRESSED_BYTES); a decompression bomb or not "
                             f"a data file")
        return n


@contextlib.contextmanager
def text_lines(path: str, name: Optional[str] = None, stream=None, compressed: Optional[bool] = None,
               max_line_chars: int = MAX_LINE_CHARS,
               max_lines: Optional[int] = None) -> Iterator[Iterator[Tuple[int, str]]]:
    """Streams the lines of a text file, gzipped or not, with one-line errors.

    Decoded as UTF-8 (undecodable bytes become U+FFFD; a byte-order mark is dropped);
    ``\n``, ``\r\n`` and ``\r`` end a line. Nothing is read whole: a gzip file is
    decompressed as it is read, and at most :data:`MAX_DECOMPRESSED_BYTES`.

    Args:
      path: the file (checked with :func:`check_path` unless ``stream`` is given).
      name: the file as messages name it (default: ``path``).
      stream: an open binary stream to read instead of opening ``path`` (e.g. a zip member).
      compressed: gzip or not (default: ``path`` ends with ``.gz``).
      max_line_chars: the longest line allowed.
      max_lines: the most lines allowed (default: :data:`MAX_LINES`, looked up at the call).

    Yields:
      An iterator of (line number from 1, line without its end).

    Raises:
      FileNotFoundError: no file at ``path``. ValueError: ``"NAME: ..."`` for a path that is
        not a readable file (:func:`path_problem`), a damaged gzip stream, more than
        :data:`MAX_DECOMPRESSED_BYTES` decompressed, more than ``max_lines`` lines (raised
        when line ``max_lines + 1`` is read: ``"NAME: more than 10,000,000 lines (...)"``), or
        ``"NAME line N: ..."`` for a line longer than ``max_line_chars``.
    """
    name = path if name is None else name
    if compressed is None:
        compressed = str(path).endswith(COMPRESSED_SUFFIXES)
    with contextlib.ExitStack() as stack:
        if stream is None:
            check_path(path, "file")
            if not os.path.lexists(path):
                raise FileNotFoundError(f"{name}: no such file")
            stream = stack.enter_context(open(path, "rb"))
        if compressed:
            stream = _CappedStream(stack.enter_context(gzip.GzipFile(fileobj=stream, mode="rb")), name,
                                   MAX_DECOMPRESSED_BYTES)
            stream = io.BufferedReader(stream)
        text = stack.enter_context(io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline=None))
        yield _lines(text, name, max_line_chars, compressed, MAX_LINES if max_lines is None else max_lines)


def _lines(text, name: str, max_chars: int, compressed: bool, max_lines: int) -> Iterator[Tuple[int, str]]:
    number = 0
    while True:
        try:
            line = text.readline(max_chars + 2)  # room for the line end
        except (OSError, EOFError, zipfile.BadZipFile) as e:
            what = "gzip file" if compressed else "file"
            raise ValueError(f"{name}: not a readable {what} ({e})") from None
        if not line:
            return
        number += 1
        if number > max_lines:
            raise ValueError(f"{name}: more than {max_lines:,} lines, the most one input may hold "
                             f"(rl_tuner.plumbing.file_checks.MAX_LINES)")
        line = line[:-1] if line.endswith("\n") else line
        if len(line) > max_chars:
            raise ValueError(f"{name} line {number}: longer than {max_chars:,} characters "
                             f"(rl_tuner.plumbing.file_checks.MAX_LINE_CHARS); not a line of a data file")
        yield number, line


def check_file(path: str, what: str = "file") -> None:
    """Raises unless ``path`` is a non-empty regular file that is not a git-lfs pointer.

    Args:
      path: the file.
      what: what the file should be, for the message (e.g. "checkpoint config").

    Raises:
      FileNotFoundError: if there is no file at ``path``.
      ValueError: if it is not a readable regular file (:func:`path_problem`: a directory,
        FIFO, symbolic-link loop, ...), empty or a git-lfs pointer.
    """
    problem = path_problem(path, "file")
    if problem:
        raise ValueError(f"{path}: {problem}")
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
