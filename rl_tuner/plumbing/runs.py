"""Training run directories (``rl-tuner train`` and ``note-rnn train``).

One rule for both trainers:

* one process at a time: ``RUN/.lock`` is held with ``fcntl.flock`` while the run trains
  (the OS releases it when the process ends, also after ``kill -9``); a second process gets
  a one-line error naming the directory and the pid holding it;
* a run directory exists only once the run has really started: the trainer calls
  :meth:`Run.start` after its inputs (prior, data) were loaded and checked, and only then
  are the run's config and manifest written. A failed first start leaves no directory it
  created (and no config that would later be refused as "different settings");
* resuming compares meaning, not spelling: every field but the few a trainer allows to
  change (total steps or epochs, reporting) must be equal, and input paths count as equal
  when their content fingerprint (stored in the run's manifest) is equal, or, for runs
  without one, when they resolve to the same file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import time

import numpy as np

from rl_tuner.plumbing import atomic, outputs

# A lock found taken is tried again a few times: another command's check of whether a run is
# in use (rl_tuner.plumbing.outputs.lock_holder) holds it for a moment.
_LOCK_TRIES, _LOCK_RETRY_SECONDS = 5, 0.02
_HELD: dict[str, int] = {}  # real path of a run directory -> lock file descriptor of this process


def held_runs() -> list[str]:
    """Real paths of the run directories this process holds the lock of (trains)."""
    return list(_HELD)


class RunInUseError(ValueError):
    """Another process (or this one) is training in the run directory."""


@contextlib.contextmanager
def lock(run_dir: str):
    """Holds ``run_dir/.lock`` (exclusive ``flock``) for the duration of the block.

    Only the process that wins the lock writes its pid into the file; if the block raises
    (the command is refused, e.g. a resume with different settings, or fails), the file's
    earlier content is put back.

    Raises:
      RunInUseError: naming ``run_dir`` and the pid of the process holding the lock.
      OSError: if the lock file cannot be created (naming it).
    """
    key = os.path.realpath(run_dir)
    if key in _HELD:
        raise RunInUseError(f"{run_dir} is already in use by this process (pid {os.getpid()})")
    path = os.path.join(run_dir, outputs.LOCK)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
        raise atomic.target_error(e, run_dir) from None
    for attempt in range(_LOCK_TRIES):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if attempt + 1 < _LOCK_TRIES:  # perhaps only another command's brief test
                time.sleep(_LOCK_RETRY_SECONDS)  # (rl_tuner.plumbing.outputs.lock_holder)
                continue
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunInUseError(f"{run_dir} is in use by another training process (pid {holder}); wait for it to "
                                "end or choose another --out") from None
    previous = os.pread(fd, 4096, 0)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _HELD[key] = fd
    try:
        yield path
    except BaseException:
        with contextlib.suppress(OSError):  # a refused or failed command leaves the file as it found it
            os.ftruncate(fd, 0)
            os.pwrite(fd, previous, 0)
        raise
    finally:
        _HELD.pop(key, None)
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def holding(run_dir: str):
    """Holds ``run_dir``'s lock for the block (creating the folder), unless this process holds
    it already (inside :func:`run_directory`): a trainer called as a library function owns its
    run like the commands do, so that it may write inside it
    (:func:`rl_tuner.plumbing.outputs.check_protected`).

    Raises:
      RunInUseError: if another process trains in ``run_dir``.
      OSError: naming ``run_dir`` if it cannot be created.
    """
    if os.path.realpath(run_dir) in _HELD:
        yield
        return
    try:
        os.makedirs(run_dir, exist_ok=True)
    except OSError as e:
        raise atomic.target_error(e, run_dir) from None
    with lock(run_dir):
        yield


class Run:
    """A locked run directory; :meth:`start` records the run once it has really started."""

    def __init__(self, path: str, command: str):
        self.path = path
        self.command = command
        self.started = False
        self.resumed = False

    def start(self, config_file: str, config, may_change=(), inputs: dict | None = None) -> bool:
        """Checks a resumed run's settings, then writes the config and the manifest.

        Args:
          config_file: file name of the config inside the run directory.
          config: the run's config dataclass.
          may_change: fields allowed to differ from the stored config (total steps,
            reporting); every other field must be equal.
          inputs: {field: content fingerprint} of the fields that name input paths.

        Returns:
          True if the directory held this run already (a resume).

        Raises:
          ValueError: if the stored run has different settings (one line naming them).
        """
        inputs = inputs or {}
        config_path = os.path.join(self.path, config_file)
        resumed = os.path.isfile(config_path)
        check_settings(self.path, config_file, config, may_change, inputs)
        atomic.write_json(config_path, dataclasses.asdict(config))
        atomic.write_json(os.path.join(self.path, outputs.MANIFEST), outputs.manifest(
            self.command, [], inputs={k: {"path": os.path.abspath(getattr(config, k)), "sha256": v}
                                      for k, v in inputs.items()}))
        self.started = True
        self.resumed = resumed
        return resumed

    def has_checkpoint(self) -> bool:
        """True once the trainer saved its state (``ckpt/checkpoint``, both trainers)."""
        return os.path.isfile(os.path.join(self.path, "ckpt", "checkpoint"))


@contextlib.contextmanager
def run_directory(path: str, command: str):
    """Opens (creating if needed) and locks the run directory ``path`` of ``command``.

    Yields a :class:`Run`. If the block fails before :meth:`Run.start`, a directory this
    call created is removed again. If it fails after starting a new run but before the run
    finished any work (e.g. the network does not fit in memory), the entries the run wrote
    (config, manifest, logs) are removed too, so that the corrected command starts normally
    instead of being refused as "different settings"; entries that were there before stay.
    Once the run holds finished work (a checkpoint, a model, a policy, a history: anything
    but :data:`SCAFFOLDING`), nothing is removed, whatever the error (a full disk while
    saving the next epoch keeps the epochs saved before).

    Raises:
      rl_tuner.plumbing.outputs.OutputError: if ``path`` is a file, a non-empty directory that is
        not a run of ``command``, or inside a protected folder
        (:func:`rl_tuner.plumbing.outputs.check_protected`: another run, a checkpoint, a data set, ...).
      RunInUseError: if another process trains in ``path``.
      OSError: naming ``path`` if it cannot be created.
    """
    check_run_directory(path, command)
    created = not os.path.exists(path)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise atomic.target_error(e, path) from None
    run = Run(path, command)
    try:
        with lock(path) as lock_path:
            before = set(os.listdir(path))
            try:
                yield run
            except BaseException:
                if run.started and not run.resumed and not run.has_checkpoint() and not _finished_work(path, before):
                    _unstart(path, before)
                    run.started = False
                if created and not run.started:
                    with contextlib.suppress(OSError):
                        os.remove(lock_path)
                        os.rmdir(path)  # only if nothing else appeared in it
                raise
    except BaseException:
        if created and not run.started and os.path.isdir(path) and not os.listdir(path):
            with contextlib.suppress(OSError):
                os.rmdir(path)
        raise


def check_run_directory(path: str, command: str) -> None:
    """Refuses a ``path`` that cannot become or be a run directory of ``command`` (reads only).

    Raises:
      rl_tuner.plumbing.outputs.OutputError: if ``path`` is a file, or a non-empty directory that is
        not a run of ``command`` (another command's output, a user's folder).
    """
    outputs.check_not_a_file(path)
    outputs.check_protected(path, command)  # another run, a checkpoint, a data set, ... or a folder inside one
    if os.path.isdir(path) and outputs.lock_holder(path) is None and outputs.entries(path):  # held: lock() refuses
        writer = outputs.owner(path)
        if writer != command:
            what = f"holds the output of `{writer}`" if writer else f"is not empty ({outputs.describe(path)})"
            raise outputs.OutputError(f"--out {path} {what} and is not a `{command}` run; choose another --out "
                                      "(training writes only into a new or empty directory or its own earlier run)")


def check_settings(run_dir: str, config_file: str, config, may_change=(), inputs: dict | None = None) -> None:
    """Refuses to resume the run in ``run_dir`` with other settings (see :func:`changed_settings`
    for the arguments; a directory without ``config_file`` passes).

    Raises:
      ValueError: one line naming the run directory and every changed setting (old -> new),
        with the flags to give for settings an older run predates.
    """
    changed = changed_settings(run_dir, config_file, config, may_change, inputs)
    if changed:
        stored = atomic.read_json(os.path.join(run_dir, config_file)) or {}
        legacy = {k: old for k, (old, _) in changed.items()  # fields the run predates (their old meaning)
                  if k not in stored and getattr(type(config), "LEGACY_NAMES", {}).get(k) not in stored}
        hint = ("" if not legacy else "; the run predates " + ", ".join(legacy) + ": give "
                + " ".join(_flag(k, v) for k, v in legacy.items()) + " to resume it")
        raise ValueError(f"{run_dir} holds a run with different settings "
                         f"({', '.join(f'{k}: {old} -> {new}' for k, (old, new) in changed.items())}); "
                         f"use a new --out directory or the same settings to resume{hint}")


# What a run writes when it starts, before any work is finished: its config (each trainer's
# file name), manifest, lock, TensorBoard logs (note-rnn's logs/, rl-tuner's event files) and
# a ckpt/ folder without a saved state.
SCAFFOLDING = ("config.json", "train_config.json", "prior_config.json", outputs.MANIFEST, outputs.LOCK, "logs", "ckpt")
_EVENTS = "events.out.tfevents."


def _finished_work(path: str, before: set) -> bool:
    """True if run directory ``path`` gained an entry other than :data:`SCAFFOLDING` since
    ``before`` (its listing when the run started)."""
    try:
        new = set(os.listdir(path)) - before
    except OSError:
        return True  # unknown: remove nothing
    return any(entry not in SCAFFOLDING and not entry.startswith(_EVENTS) for entry in new)


def _unstart(path: str, before: set) -> None:
    """Removes the entries of run directory ``path`` that are not in ``before`` (see
    :func:`run_directory`: a new run that failed before its first checkpoint)."""
    for entry in set(os.listdir(path)) - before:
        atomic.remove_entry(os.path.join(path, entry))


def _flag(field: str, value) -> str:
    """The command-line spelling of a setting: ``--end-transitions 0.0``, ``--save-replay`` or
    ``--no-save-replay`` for a boolean."""
    name = field.replace("_", "-")
    if isinstance(value, bool):
        return f"--{name}" if value else f"--no-{name}"
    return f"--{name} {value}"


def changed_settings(run_dir: str, config_file: str, config, may_change=(), inputs: dict | None = None) -> dict:
    """Compares a config dataclass with the one a run stored, by meaning.

    Args:
      run_dir: the run directory (its manifest holds the inputs' fingerprints).
      config_file: the stored config's file name in ``run_dir`` (no file: nothing changed).
      config: the dataclass of the new run (a ``upgrade_stored(dict) -> dict`` class method
        and a ``LEGACY_NAMES`` {new: old} table, if it has them, read earlier versions'
        files in today's names).
      may_change: fields not compared.
      inputs: {field: fingerprint} of path fields: equal if the fingerprints are (whatever
        the spelling or location of the path); without a stored fingerprint, equal if both
        resolve to the same path.

    Returns:
      {field: (stored value, new value)} for every differing field.
    """
    old = atomic.read_json(os.path.join(run_dir, config_file))
    if old is None:
        return {}
    upgrade = getattr(type(config), "upgrade_stored", None)
    if upgrade is not None:  # a config.json of an earlier version, in today's names
        old = upgrade(old)
    inputs = inputs or {}
    stored_inputs = dict((outputs.read_manifest(run_dir) or {}).get("inputs") or {})
    for new_key, old_key in getattr(type(config), "LEGACY_NAMES", {}).items():
        if new_key not in stored_inputs and old_key in stored_inputs:
            stored_inputs[new_key] = stored_inputs.pop(old_key)
    new = json.loads(json.dumps(dataclasses.asdict(config)))  # tuples as lists, like the stored file
    changed = {}
    for key in (f.name for f in dataclasses.fields(config)):
        if key in may_change:
            continue
        if key in inputs:
            stored = stored_inputs.get(key) or {}
            same = (stored.get("sha256") == inputs[key] if stored.get("sha256")
                    else isinstance(old.get(key), str) and os.path.realpath(old[key]) == os.path.realpath(new[key]))
            if not same:
                changed[key] = (old.get(key), f"{new[key]} (different content)" if stored.get("sha256") else new[key])
        elif old.get(key) != new.get(key):
            changed[key] = (old.get(key), new.get(key))
    return changed


def fingerprint_files(paths) -> str:
    """sha256 over the names and bytes of ``paths`` (a data set's files), hex.

    Raises:
      FileNotFoundError: if a file is missing.
    """
    digest = hashlib.sha256()
    for path in paths:
        digest.update(os.path.basename(path).encode() + b"\0")
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def fingerprint_weights(weights: dict) -> str:
    """sha256 over named weight arrays (names, shapes, float32 bytes), hex.

    The same network gives the same fingerprint whatever file or format it was read from.
    """
    digest = hashlib.sha256()
    for name in sorted(weights):
        array = np.ascontiguousarray(weights[name], dtype=np.float32)
        digest.update(f"{name}:{list(array.shape)}\0".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()
