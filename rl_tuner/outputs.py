"""What a command may write, replace or delete: the rules behind every ``--out``.

Every command that writes a directory leaves a small manifest in it, ``.sequence-tutor.json``
(``{"command": "rl-tuner export", "files": [...]}``), so that a later run can tell its own
earlier output from a user's folder:

* a missing or empty target is always fine;
* a non-empty directory is replaced only if its manifest names the same command, or with
  ``--overwrite``; even then only the entries the old manifest lists and the entries the new
  output holds are removed, never other files;
* an input of the command (``export --model RUN --out RUN``, an output folder that contains
  the input) and a training run directory are never replaced, not even with ``--overwrite``.

JSON outputs (``rl-tuner evaluate/score/stats --out FILE``) carry ``"written_by": COMMAND``
and follow the same rules: an existing file is replaced only if it is this command's own
earlier output, or with ``--overwrite``, and never when it is an input or part of a run.

All refusals are :class:`OutputError` (a ValueError: ``run_main`` prints it on one line).
"""

from __future__ import annotations

import json
import os

MANIFEST = ".sequence-tutor.json"
LOCK = ".lock"
WRITTEN_BY = "written_by"
RUN_COMMANDS = ("rl-tuner train", "note-rnn train", "molecules train-prior")
# Run directories written before manifests existed: the file each trainer writes first.
_LEGACY_RUN_FILES = {"rl-tuner train": ("config.json", "ckpt"), "note-rnn train": ("train_config.json", None)}
_BOOKKEEPING = (MANIFEST, LOCK)
# Commands writing the same kind of output: each may replace the other's earlier output.
_KINDS = {"note-rnn generate": "generate", "rl-tuner generate": "generate"}


def same_kind(a: str | None, b: str | None) -> bool:
    """True if commands ``a`` and ``b`` write the same kind of output (e.g. both generate melodies)."""
    return a is not None and b is not None and _KINDS.get(a, a) == _KINDS.get(b, b)


class OutputError(ValueError):
    """A write that would lose data (the message names the path and what is there)."""


def read_manifest(path: str) -> dict | None:
    """Returns the manifest of directory ``path``, or None if it has no readable one."""
    try:
        with open(os.path.join(path, MANIFEST)) as f:
            manifest = json.load(f)
    except (OSError, ValueError, RecursionError):
        return None
    return manifest if isinstance(manifest, dict) else None


def manifest(command: str, files, **extra) -> dict:
    """The manifest a command writes: {"command", "files" (sorted), **extra}."""
    return {"command": command, "files": sorted(files), **extra}


def owner(path: str) -> str | None:
    """The command that wrote directory ``path`` (its manifest, or a legacy run's files)."""
    found = read_manifest(path)
    if found and isinstance(found.get("command"), str):
        return found["command"]
    for command, (marker, subdir) in _LEGACY_RUN_FILES.items():
        if os.path.isfile(os.path.join(path, marker)) and (subdir is None or os.path.isdir(os.path.join(path, subdir))):
            return command
    return None


def is_run_dir(path: str) -> bool:
    """True if ``path`` is a directory of a trainer (``RUN_COMMANDS``: ``rl-tuner train``,
    ``note-rnn train``, ``molecules train-prior``)."""
    return os.path.isdir(path) and owner(path) in RUN_COMMANDS


def entries(path: str) -> list[str]:
    """The sorted entries of directory ``path`` other than the manifest and the run lock."""
    return sorted(e for e in os.listdir(path) if e not in _BOOKKEEPING)


def describe(path: str, limit: int = 4) -> str:
    """One line on what ``path`` holds, e.g. ``3 entries: a.txt, b/, notes.md``."""
    names = [e + ("/" if os.path.isdir(os.path.join(path, e)) else "") for e in entries(path)]
    shown = ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")
    return f"{len(names)} {'entry' if len(names) == 1 else 'entries'}: {shown}"


def _real(path: str) -> str:
    return os.path.realpath(os.path.abspath(path))


def _inside(inner: str, outer: str) -> bool:
    """True if real path ``inner`` is ``outer`` or lies below it."""
    return inner == outer or inner.startswith(outer.rstrip(os.sep) + os.sep)


def check_not_input(path: str, inputs) -> None:
    """Refuses an output ``path`` that is, contains, or would overwrite part of an input.

    Args:
      path: the output file or directory.
      inputs: paths the command reads (None entries are ignored).

    Raises:
      OutputError: if writing ``path`` could replace an input.
    """
    out = _real(path)
    for source in inputs:
        if not source:
            continue
        src = _real(source)
        inside_existing = _inside(out, src) and os.path.exists(out) and (
            not os.path.isdir(out) or entries(out))
        if out == src or _inside(src, out) or inside_existing:
            raise OutputError(f"--out {path} would replace the input {source}; write to another path")


def check_dir(path: str, command: str | None = None, overwrite: bool = False, inputs=(), owned=()) -> None:
    """Refuses a directory target that holds something this writer may not replace.

    Args:
      path: the output directory.
      command: the writing command, e.g. "rl-tuner export" (None: a library call, whose own
        output is recognised by ``owned``).
      overwrite: the user allowed replacing a directory that is not this command's output.
      inputs: paths the command reads; never replaced.
      owned: entry names this writer creates (for ``command=None``: a directory holding only
        these is its own earlier output).

    Raises:
      OutputError: for a file where a directory is expected, a run directory, an input, or
        a non-empty directory that is not this command's earlier output (without overwrite).
    """
    check_not_input(path, inputs)
    if not os.path.lexists(path):
        return
    if not os.path.isdir(path):
        raise OutputError(f"--out {path} is a file, not a directory; choose a directory path")
    if is_run_dir(path):
        raise OutputError(f"--out {path} is a training run directory ({owner(path)}); it is never replaced: "
                          "choose another --out")
    names = entries(path)
    if not names or overwrite:
        return
    writer = owner(path)
    if same_kind(writer, command):
        return
    if command is None and writer is None and set(names) <= set(owned):
        return
    what = f"holds the output of `{writer}`" if writer else f"is not empty ({describe(path)})"
    raise OutputError(f"--out {path} {what}; choose another --out, or pass --overwrite to replace "
                      f"what {command or 'this writer'} writes there (other files are kept)")


def check_file(path: str, command: str, overwrite: bool = False, inputs=()) -> None:
    """Refuses a file target that holds something this command may not replace.

    Args:
      path: the output file.
      command: the writing command; its JSON outputs carry ``"written_by": command``.
      overwrite: the user allowed replacing a file that is not this command's output.
      inputs: files the command reads; never replaced.

    Raises:
      OutputError: for a directory, an input, a file inside a run directory, or an existing
        file that is not this command's earlier output (without overwrite).
    """
    check_not_input(path, inputs)
    if not os.path.lexists(path):
        return
    if os.path.isdir(path):
        raise OutputError(f"--out {path} is a directory; give a file name")
    parent = os.path.dirname(os.path.abspath(path))
    if is_run_dir(parent):
        raise OutputError(f"--out {path} is part of the training run {parent}; it is never replaced: "
                          "choose another --out")
    if overwrite or written_by(path) == command:
        return
    raise OutputError(f"--out {path} already exists and is not an earlier output of `{command}`; choose another "
                      "--out, or pass --overwrite to replace it")


def written_by(path: str) -> str | None:
    """The ``written_by`` field of a JSON object file, or None."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError, RecursionError):
        return None
    return data.get(WRITTEN_BY) if isinstance(data, dict) else None


def write_json(path: str, obj: dict, command: str, overwrite: bool = False, inputs=()) -> None:
    """Checks ``path`` (see :func:`check_file`) and writes ``obj`` with ``written_by`` atomically."""
    from rl_tuner import atomic
    check_file(path, command, overwrite, inputs)
    atomic.write_json(path, {WRITTEN_BY: command, **obj})


def replaced_entries(path: str, command: str | None, new_entries, owned=()) -> list[str]:
    """Entries of existing directory ``path`` that committing a new output removes.

    These are the new output's entry names, the names this writer owns, and the files the
    old manifest lists when that manifest is this command's; nothing else.
    """
    names = set(new_entries) | set(owned) | ({MANIFEST} if command else set())
    old = read_manifest(path)
    if command and old and same_kind(old.get("command"), command):
        names |= {n for n in old.get("files", []) if isinstance(n, str) and n and os.sep not in n
                  and n not in (".", "..")}
    return sorted(n for n in names if os.path.lexists(os.path.join(path, n)))
