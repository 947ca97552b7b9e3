"""Atomic file and directory writes (a reader sees the old version or the new one, never half),
and the reading side of the JSON files of run directories."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import tempfile

import numpy as np


def umask() -> int:
    """This process's umask (read by setting and restoring it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


# A write refused for lack of room or because the file system is read-only: "No space left on
# device", "Disk quota exceeded", "Read-only file system".
DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)


def disk_errno(error: BaseException) -> int | None:
    """The errno of ``error`` if it is a write refused by a full disk, a quota or a read-only
    file system (:data:`DISK_ERRNOS`), else None.

    Recognises an OSError by its ``errno`` and a TensorFlow error (checkpoint and summary
    writes; ``ResourceExhaustedError`` for ENOSPC and EDQUOT, which is not an allocation
    failure) by the ``FILE; REASON`` text TensorFlow gives such errors, without importing
    TensorFlow.
    """
    if isinstance(error, OSError):
        return error.errno if error.errno in DISK_ERRNOS else None
    if "OpError" not in {cls.__name__ for cls in type(error).__mro__}:
        return None
    text = str(error)
    return next((code for code in DISK_ERRNOS if f"; {os.strerror(code)}" in text), None)


def target_error(error: BaseException, path: str) -> OSError:
    """The same kind of OSError, in one line naming the user's ``path`` (not a temporary file).

    ``str()`` of the result is ``cannot write PATH: REASON`` (e.g. ``Permission denied``,
    ``No space left on device``); ``errno`` is kept. An error that already went through here
    keeps its first reason. A TensorFlow error of a full disk, a quota or a read-only file
    system (:func:`disk_errno`) becomes an OSError with that errno and its ``strerror``.
    """
    if not isinstance(error, OSError):
        code = disk_errno(error)
        error = OSError(code, os.strerror(code)) if code else OSError(str(error).splitlines()[0] if str(error) else "")
    reason = getattr(error, "reason", None) or error.strerror or (str(error).splitlines() or [""])[0] \
        or type(error).__name__
    blocking = _file_ancestor(path) if isinstance(error, (FileExistsError, NotADirectoryError)) else None
    if blocking and not hasattr(error, "reason"):  # makedirs says "File exists" for a file on the way
        error = NotADirectoryError(errno.ENOTDIR, "")
        reason = f"Not a directory ({blocking} is a file)"
    try:
        new = type(error)(f"cannot write {path}: {reason}")
    except TypeError:
        new = OSError(f"cannot write {path}: {reason}")
    new.errno = error.errno
    new.reason = reason
    return new


def _file_ancestor(path: str) -> str | None:
    """The first existing ancestor of ``path`` that is not a directory, if any."""
    parent = os.path.dirname(os.path.abspath(path))
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent)
    return parent if parent and not os.path.isdir(parent) else None


_STALE = re.compile(r"^\.(?P<name>.*)\.tmp-(?P<pid>\d+)-[^/]*$")


def tmp_prefix(name: str) -> str:
    """Prefix of this process's temporary sibling of ``name``: ``.NAME.tmp-PID-``."""
    return f".{name}.tmp-{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def remove_stale_temporaries(parent: str, name: str) -> list[str]:
    """Removes the temporary siblings ``.NAME.tmp-PID-*`` of ``name`` left by a dead process.

    A writer killed with ``kill -9`` (or by the OOM killer) cannot remove its temporary file
    or folder; the next write of the same target does. Only entries of this naming scheme
    whose process no longer exists are removed (a running writer's are kept).

    Returns:
      The removed entry names.
    """
    removed = []
    try:
        listing = os.listdir(parent or ".")
    except OSError:
        return removed
    for entry in listing:
        match = _STALE.match(entry)
        if not match or match.group("name") != name or _alive(int(match.group("pid"))):
            continue
        if remove_entry(os.path.join(parent, entry)):
            removed.append(entry)
    return removed


@contextlib.contextmanager
def writing(path: str):
    """Re-raises a write that fails inside the block as an OSError naming ``path``.

    For writers this module does not perform (TensorFlow's checkpoint manager, image and
    MIDI libraries): an OSError, or a TensorFlow error of a full disk, a quota or a read-only
    file system (:func:`disk_errno`), becomes ``cannot write PATH: REASON`` (e.g. ``cannot
    write RUN/ckpt: No space left on device``; :func:`target_error`). An OSError that already
    names its file (this module's writers inside the block) and other exceptions pass
    unchanged.
    """
    try:
        yield
    except OSError as e:
        if hasattr(e, "reason"):  # already names its own file (an atomic write inside the block)
            raise
        raise target_error(e, path) from None
    except Exception as e:  # pylint: disable=broad-except
        if disk_errno(e) is None:
            raise
        raise target_error(e, path) from None


def write_bytes(path: str, data: bytes) -> None:
    """Writes ``data`` to ``path`` through a temporary file and an atomic rename.

    Raises:
      OSError: (the same subclass, e.g. PermissionError, NotADirectoryError) naming ``path``
        and the reason; no temporary file is left behind.
    """
    directory = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        os.makedirs(directory, exist_ok=True)
        remove_stale_temporaries(directory, os.path.basename(path))
        fd, tmp = tempfile.mkstemp(prefix=tmp_prefix(os.path.basename(path)), dir=directory)
        os.chmod(tmp, 0o666 & ~umask())  # mkstemp creates 0600; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.remove(tmp)
        if isinstance(e, OSError):
            raise target_error(e, path) from None
        raise


def write_json(path: str, obj) -> None:
    """Writes ``obj`` as indented JSON, atomically (NaN is written as null)."""
    write_bytes(path, (json.dumps(_nan_to_none(obj), indent=2, sort_keys=False) + "\n").encode())


def read_json(path: str, what: str = "run file"):
    """Returns the JSON object stored at ``path``, or None when there is no such file.

    Args:
      path: a JSON file of a run directory or data set (config.json, history.json, ...).
      what: what the file is, for error messages.

    Raises:
      ValueError: naming ``path`` if it is empty, a git-lfs pointer, not UTF-8, not valid
        JSON or not a JSON object (:func:`rl_tuner.plumbing.file_checks.read_json`).
    """
    if not os.path.isfile(path):
        return None
    from rl_tuner.plumbing import file_checks
    return file_checks.read_json(path, what)


def remove_entry(path: str) -> bool:
    """Removes a file, link or directory tree; returns False (and leaves it) on an OSError."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
    except OSError:
        return False
    return True


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
