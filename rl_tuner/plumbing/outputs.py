"""What a command may write, replace or delete: the rules behind every ``--out``.

Every command that writes a directory leaves a small manifest in it, ``.sequence-tutor.json``
(``{"command": "rl-tuner export", "files": [...]}``), so that a later run can tell its own
earlier output from a user's folder:

* a missing or empty target is always fine;
* a non-empty directory is replaced only if its manifest names the same command, or with
  ``--overwrite``; even then only the entries the old manifest lists and the entries the new
  output holds are removed, never other files;
* an input of the command (``export --model RUN --out RUN``, an output folder that contains
  the input) and a training run directory are never replaced, not even with ``--overwrite``;
* nothing is ever written into, or replaced inside, a protected folder, at any depth, with or
  without ``--overwrite`` (:func:`check_protected`, which every check below calls): a training
  run, a model checkpoint, a tuned policy or exported model, a prepared data set, and the
  installed Python packages (the shipped checkpoints of ``note_rnn/_checkpoints``). The
  exceptions: the process training a run (it holds the run's lock) writes inside it, and a
  command rewrites its own earlier output folder (``prepare``, ``export`` and
  ``import-magenta`` rerun, training resumes).

JSON outputs (``rl-tuner evaluate/score/stats --out FILE``) carry ``"written_by": COMMAND``
and follow the same rules: an existing file is replaced only if it is this command's own
earlier output, or with ``--overwrite``, and never when it is an input or part of a run.

All refusals are :class:`OutputError` (a ValueError: ``run_main`` prints it on one line).
"""

from __future__ import annotations

import functools
import json
import os
import sys

from rl_tuner.plumbing import atomic

MANIFEST = ".sequence-tutor.json"
LOCK = ".lock"
WRITTEN_BY = "written_by"
RUN_COMMANDS = ("rl-tuner train", "note-rnn train", "molecules train-prior")
PREPARE_COMMANDS = ("note-rnn prepare", "molecules prepare")
EXPORT_COMMAND = "rl-tuner export"
# Run directories written before manifests existed: the file each trainer writes first.
_LEGACY_RUN_FILES = {"rl-tuner train": ("config.json", "ckpt"), "note-rnn train": ("train_config.json", None),
                     "molecules train-prior": ("prior_config.json", None)}
# Marker files of the protected folders (check_protected). The names are those of
# rl_tuner.plumbing.checkpoint (CONFIG_FILE, WEIGHTS_FILE, CARD_FILE, FORMATS), rl_tuner.runner.policy (POLICY_FILE) and
# the prepare commands' outputs (note_rnn.corpus, molecules.data); tests/test_protected.py
# checks that they agree.
_TRAINING_STATE = os.path.join("ckpt", "checkpoint")  # tf.train.CheckpointManager's state file of a run
_CHECKPOINT_CONFIG, _CHECKPOINT_WEIGHTS, _CHECKPOINT_CARD = "config.json", "weights.npz", "card.json"
_CHECKPOINT_FORMATS = ("note_rnn/1", "sequence_rnn/1", "sequence_rnn/2")  # (the checkpoint writer imports this module)
_POLICY_FILE = "policy.json"
_DATA_SUMMARY = "summary.json"
_DATA_FILES = ("train.npz", "validation.npz", "train.smi.gz", "validation.smi.gz", "test.smi.gz", "tokenizer.json")
_DATA_SUFFIX = ".tfrecord"  # rl_tuner.plumbing.records.SUFFIX: the shards of --format tfrecord
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


def entries(path: str) -> list[str]:
    """The sorted entries of directory ``path`` other than the manifest and a free run lock
    (a ``.lock`` another process holds counts: that folder is a run being trained)."""
    names = os.listdir(path)
    held = LOCK in names and lock_holder(path) is not None
    return sorted(e for e in names if e not in _BOOKKEEPING or (held and e == LOCK))


def lock_holder(path: str) -> str | None:
    """The pid (as the lock file says it, or ``"unknown"``) of another process holding the run
    lock ``path/.lock`` (:func:`rl_tuner.plumbing.runs.lock`), or None if no other process holds it.

    Tested with a non-blocking shared ``flock`` that is released at once; the lock file is
    never created or written. A lock this process holds is not reported.
    """
    if _held_run(path):
        return None
    try:
        fd = os.open(os.path.join(path, LOCK), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        import fcntl  # pylint: disable=import-outside-toplevel  (POSIX only)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        except OSError:
            return None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


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
      OutputError: for a file where a directory is expected, a run directory, an input, a
        path in a protected folder (:func:`check_protected`), or a non-empty directory that
        is not this command's earlier output (without overwrite).
    """
    _check_given(path)
    check_not_input(path, inputs)
    check_not_a_file(path)
    check_protected(path, command, owned)  # a run, a checkpoint, a data set, ... or a folder inside one
    if not os.path.lexists(path):
        return
    check_replaced(path, replaced_entries(path, command, (), owned), command, owned)  # known before the work
    names = entries(path)
    if not names or overwrite:
        return
    writer = owner(path)
    if _own_output(path, command, owned):
        return
    what = f"holds the output of `{writer}`" if writer else f"is not empty ({describe(path)})"
    raise OutputError(f"--out {path} {what}; choose another --out, or pass --overwrite to replace "
                      f"what {command or 'this writer'} writes there (other files are kept)")


def check_not_a_file(path: str) -> None:
    """Refuses a directory target ``path`` that exists and is not a directory.

    Raises:
      OutputError: ``--out PATH is a file, not a directory; ...``.
    """
    if os.path.lexists(path) and not os.path.isdir(path):
        raise OutputError(f"--out {path} is a file, not a directory; choose a directory path")


def _own_output(path: str, command: str | None, owned=()) -> bool:
    """True if directory ``path`` is this writer's earlier output: its manifest names a command
    of the same kind, or (a library call, ``command`` None) it holds only the ``owned`` names."""
    writer = owner(path)
    if same_kind(writer, command):
        return True
    return command is None and writer is None and set(entries(path)) <= set(owned)


def protected_kind(path: str) -> tuple[str, str | None] | None:
    """What directory ``path`` is, if no command may write into it; else None.

    Recognised by the markers the project's writers leave (manifests first, then the files
    of outputs written before manifests existed):

    * a training run: a manifest of ``RUN_COMMANDS``, a trainer's first file (``config.json``
      + ``ckpt/``, ``train_config.json``, ``prior_config.json``), ``ckpt/checkpoint``, or a
      run lock ``.lock`` that another process holds (:func:`lock_holder`: a trainer that has
      not written its config yet);
    * an exported model (manifest of ``rl-tuner export``) or a tuned policy (``policy.json``:
      a run's ``policy/``, ``checkpoints/tuned/*``, an export);
    * a prepared data set: a manifest of ``note-rnn prepare`` or ``molecules prepare``,
      ``summary.json`` beside a split, tokenizer or shard file, or ``train.npz`` with
      ``validation.npz``;
    * a model checkpoint (:mod:`rl_tuner.plumbing.checkpoint`): ``weights.npz`` with ``config.json``
      or ``card.json``, or a ``config.json`` naming a checkpoint format;
    * a folder of the installed Python packages (``site-packages``, which holds the shipped
      checkpoints as ``note_rnn/_checkpoints``).

    Returns:
      ``(noun, writer)``, e.g. ``("training run directory", "rl-tuner train")``, ``("model checkpoint",
      None)``; None for any other path (also a missing one).
    """
    if not os.path.isdir(path):
        return None
    if _real(path) in _installed_dirs():
        return INSTALLED, None
    writer = owner(path)
    if writer in RUN_COMMANDS:
        return "training run directory", writer
    if os.path.isfile(os.path.join(path, _TRAINING_STATE)):
        return "training run directory", None
    if lock_holder(path) is not None:  # a trainer between taking the lock and writing its config
        return "training run directory", None
    if writer == EXPORT_COMMAND:
        return "exported model", writer
    if os.path.isfile(os.path.join(path, _POLICY_FILE)):
        return "tuned policy", None
    if writer in PREPARE_COMMANDS:
        return "data set", writer
    if _is_data_set(path):
        return "data set", None
    if _is_checkpoint(path):
        return "model checkpoint", None
    return None


INSTALLED = "installed-packages folder"


def _is_data_set(path: str) -> bool:
    try:
        names = set(os.listdir(path))
    except OSError:
        return False
    if {"train.npz", "validation.npz"} <= names:
        return True
    return _DATA_SUMMARY in names and any(n in _DATA_FILES or n.endswith(_DATA_SUFFIX) for n in names)


def _is_checkpoint(path: str) -> bool:
    has = lambda name: os.path.isfile(os.path.join(path, name))  # noqa: E731
    if has(_CHECKPOINT_WEIGHTS) and (has(_CHECKPOINT_CONFIG) or has(_CHECKPOINT_CARD)):
        return True
    if not has(_CHECKPOINT_CONFIG):
        return False
    try:
        with open(os.path.join(path, _CHECKPOINT_CONFIG)) as f:
            config = json.load(f)
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(config, dict) and config.get("format") in _CHECKPOINT_FORMATS


@functools.lru_cache(maxsize=1)
def _installed_dirs() -> frozenset:
    """Real paths of this Python's package folders (site-packages, the user's site-packages)."""
    import site  # pylint: disable=import-outside-toplevel
    import sysconfig  # pylint: disable=import-outside-toplevel
    paths = [sysconfig.get_paths().get(key) for key in ("purelib", "platlib")]
    try:
        paths += site.getsitepackages() + [site.getusersitepackages()]
    except AttributeError:  # an old virtualenv's site module
        pass
    return frozenset(_real(p) for p in paths if p)


def _held_run(path: str) -> str | None:
    """The run directory this process trains (holds the lock of, :func:`rl_tuner.plumbing.runs.lock`)
    that is or contains ``path``, if any."""
    runs = sys.modules.get("rl_tuner.plumbing.runs")  # not imported: no run is held
    if runs is None:
        return None
    target = _real(path)
    return next((run for run in runs.held_runs() if _inside(target, run)), None)


def check_protected(path: str, command: str | None = None, owned=(), flag: str = "--out") -> None:
    """Refuses a target that is, or lies at any depth inside, a protected folder.

    The one check behind every ``--out`` (and ``rl-tuner listen --db``): ``path`` and each of
    its parents (resolved: ``..`` and symbolic links count) are compared with
    :func:`protected_kind`, nearest first. Not even ``--overwrite`` lifts it. Allowed are
    only: the writer's own earlier output folder as the target itself (a ``prepare`` or
    ``export`` rerun, a resumed training run: its manifest names a command of the same kind;
    for a library call, ``command`` None, a folder holding only the ``owned`` names), and any
    path inside a run directory this process trains (it holds the run's lock: the trainer
    writing its checkpoints, policy, model and samples). A trainer's target that another
    process holds the lock of but has not recorded yet passes, so that :func:`rl_tuner.plumbing.runs.lock`
    refuses it naming the pid; every other command is refused there.

    Args:
      path: the output file or directory (need not exist).
      command: the writing command, e.g. "note-rnn prepare" (None: a library call).
      owned: entry names a library writer creates (see :func:`check_dir`).
      flag: the option that gave ``path``, for the message (``--db`` of ``rl-tuner listen``).

    Raises:
      OutputError: one line naming ``path`` and the protected folder, e.g. ``--out
        runs/prior/model/config.json is part of the model checkpoint runs/prior/model; no
        command writes there, not even with --overwrite: choose another --out``.
    """
    _check_given(path, flag)
    if _held_run(path):
        return
    target = _real(path)
    folder = target
    while True:
        found = protected_kind(folder)
        if found is not None:
            noun, writer = found
            detail = _detail(folder, writer)
            if folder != target:
                raise OutputError(f"{flag} {path} is part of the {noun} {_spelled(folder, path)}{detail}; no command "
                                  f"writes there, not even with --overwrite: choose another {flag}")
            in_use = command in RUN_COMMANDS and writer is None and lock_holder(folder)  # lock() names the pid
            if noun == INSTALLED or not (_own_output(folder, command, owned) or in_use):
                article = "an" if noun[0] in "aeiou" else "a"
                raise OutputError(f"{flag} {path} is {article} {noun}{detail}; it is never replaced: choose "
                                  f"another {flag}")
        parent = os.path.dirname(folder)
        if parent == folder:
            return
        folder = parent


def _check_given(path, flag: str = "--out") -> None:
    """Refuses an empty path (``--out ""``), which would otherwise mean the current folder."""
    if not path:
        raise OutputError(f"{flag} is empty; give a path")


def _detail(folder: str, writer: str | None) -> str:
    """The parenthesis of a refusal: the writer of a protected ``folder`` and the pid training in it."""
    holder = lock_holder(folder)
    parts = ([f"`{writer}`"] if writer else []) + ([f"in use by pid {holder}"] if holder else [])
    return f" ({', '.join(parts)})" if parts else ""


def check_replaced(path: str, names, command: str | None = None, owned=(), flag: str = "--out") -> None:
    """Refuses replacing entries of directory ``path`` that are, or hold at any depth, a protected folder.

    A writer that commits a new output into an existing ``path`` removes the entries
    :func:`replaced_entries` names (e.g. ``variables/`` of ``rl-tuner export``,
    ``melodies.json`` of ``note-rnn generate``); a user's data set, run or checkpoint copied
    there under such a name must not go with them. Each entry's subtree is walked without
    following symbolic links (a link entry is only unlinked, its target stays). Not checked:
    entries of a protected folder that is this writer's own earlier output (an export's
    ``variables/``, a tuned policy's ``prior/`` checkpoint), and a run this process trains.

    Args:
      path: the existing output directory.
      names: the entry names to be replaced or removed.
      command: the writing command (None: a library call, see :func:`check_dir`).
      owned: entry names a library writer creates.
      flag: the option that gave ``path``, for the message.

    Raises:
      OutputError: one line naming ``path`` and the protected folder found, e.g. ``--out col1
        holds the data set col1/variables (`molecules prepare`), which this command would
        replace; it is never replaced, not even with --overwrite: choose another --out``.
    """
    if _held_run(path) or (protected_kind(path) is not None and _own_output(path, command, owned)):
        return
    for name in names:
        top = os.path.join(path, name)
        if os.path.islink(top) or not os.path.isdir(top):
            continue
        for root, _, _ in os.walk(top):  # does not descend into linked folders
            found = protected_kind(root)
            if found is not None:
                noun, writer = found
                raise OutputError(f"{flag} {path} holds the {noun} {root}{_detail(root, writer)}, which "
                                  f"{command or 'this writer'} would replace; it is never replaced, not even "
                                  f"with --overwrite: choose another {flag}")


def _spelled(folder: str, path: str) -> str:
    """The user's spelling of ``folder``, a resolved ancestor of ``path`` (e.g. ``runs/prior``
    for ``runs/prior/model/x.json``), or ``folder`` itself when no prefix of ``path`` names it."""
    candidate = path.rstrip(os.sep) or path
    while True:
        parent = os.path.dirname(candidate) or "."
        if _real(parent) == folder:
            return parent
        if parent == candidate or parent == ".":
            return folder
        candidate = parent


def check_file(path: str, command: str, overwrite: bool = False, inputs=()) -> None:
    """Refuses a file target that holds something this command may not replace.

    Args:
      path: the output file.
      command: the writing command; its JSON outputs carry ``"written_by": command``.
      overwrite: the user allowed replacing a file that is not this command's output.
      inputs: files the command reads; never replaced.

    Raises:
      OutputError: for a directory, an input, a path in a protected folder (a run, a
        checkpoint, a data set, ...: :func:`check_protected`), or an existing file that is
        not this command's earlier output (without overwrite).
    """
    _check_given(path)
    check_not_input(path, inputs)
    if os.path.isdir(path):
        raise OutputError(f"--out {path} is a directory; give a file name")
    check_protected(path, command)
    if not os.path.lexists(path):
        return
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
    check_file(path, command, overwrite, inputs)
    atomic.write_json(path, {WRITTEN_BY: command, **obj})


def replaced_entries(path: str, command: str | None, new_entries, owned=()) -> list[str]:
    """Entries of existing directory ``path`` that committing a new output removes.

    These are the new output's entry names, the names this writer owns, and the files the
    old manifest lists when that manifest is this command's; nothing else.

    Raises:
      OutputError: if one of them is or holds a protected folder (:func:`check_replaced`).
    """
    names = set(new_entries) | set(owned) | ({MANIFEST} if command else set())
    old = read_manifest(path)
    if command and old and same_kind(old.get("command"), command):
        names |= {n for n in old.get("files", []) if isinstance(n, str) and n and os.sep not in n
                  and n not in (".", "..")}
    found = sorted(n for n in names if os.path.lexists(os.path.join(path, n)))
    check_replaced(path, found, command, owned)
    return found
