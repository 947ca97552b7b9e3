"""Locating and opening TensorFlow 1 checkpoints: V1 files, V2 prefixes, directories, .mag bundles.

A Magenta ``.mag`` file is a ``GeneratorBundle`` protobuf whose ``checkpoint_file[0]`` is a
V1 checkpoint; it is written to a temporary file, read, and removed. Everything that cannot
be read raises :class:`MagentaCheckpointError` with a message naming the file and the cause.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile

from rl_tuner.plumbing import file_checks
from rl_tuner._tf_setup import use_legacy_keras

use_legacy_keras()
import tensorflow as tf  # noqa: E402  (must follow use_legacy_keras)

MAX_LISTED = 20  # directory entries named in an error
_TABLE_MAGIC = bytes.fromhex("57fb808b247547db")  # footer of TF SSTables (V1 files, V2 .index)
_DATA_SHARD_RE = re.compile(r"\.data-\d{5}-of-\d{5}$")
_SHARD_COUNT_RE = re.compile(r"\.data-\d{5}-of-(\d{5})$")


class MagentaCheckpointError(ValueError):
    """A Magenta checkpoint that cannot be read or does not have a supported Note-RNN layout."""


def _has_table_magic(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() < 48:
                return False
            f.seek(-8, os.SEEK_END)
            return f.read(8) == _TABLE_MAGIC
    except OSError:
        return False


def resolve_path(path: str) -> tuple[str, str]:
    """Decides what ``path`` is.

    Returns:
      ``(kind, resolved)`` with kind ``"V2"`` (resolved is the prefix), ``"V1"`` (a single
      file) or ``"bundle"`` (a ``.mag`` file or any other file, to be parsed as one).

    Raises:
      FileNotFoundError: when nothing exists at ``path``.
      MagentaCheckpointError: for a directory without exactly one identifiable checkpoint.
    """
    path = os.fspath(path)
    if not path:
        raise FileNotFoundError("no Magenta checkpoint path given")
    path = path.rstrip(os.sep) or os.sep
    file_checks.check_path(path, "any")  # a FIFO, a link loop, a dangling link: said what it is
    prefix = _DATA_SHARD_RE.sub("", path[:-len(".index")] if path.endswith(".index") else
                                re.sub(r"\.meta$", "", path))  # a V2 .index/.data-* or a .meta file was named
    if prefix != path and (os.path.isfile(prefix + ".index") or os.path.isfile(prefix)):
        return resolve_path(prefix)
    if os.path.isdir(path):
        return resolve_path(_checkpoint_in_directory(path))
    if os.path.isfile(path + ".index"):
        return "V2", path
    if os.path.isfile(path):
        if not path.endswith(".mag") and _has_table_magic(path):
            return "V1", path
        return "bundle", path
    raise FileNotFoundError(f"no Magenta checkpoint at {path}: it is not a file, a directory or a V2 "
                            f"checkpoint prefix (no {os.path.basename(path)}.index)")


def _checkpoint_in_directory(directory: str) -> str:
    """Returns the checkpoint named by ``directory``'s state file, else its only checkpoint."""
    state = os.path.join(directory, "checkpoint")
    if os.path.isfile(state):
        with contextlib.suppress(Exception):  # the state file's checkpoint, found in this directory
            state_path = tf.train.get_checkpoint_state(directory).model_checkpoint_path
            here = os.path.join(directory, os.path.basename(state_path))
            if os.path.isfile(here) or os.path.isfile(here + ".index"):
                return here  # not an absolute path to where the directory was copied from
        latest = tf.train.latest_checkpoint(directory)
        if latest:
            return latest
    entries = sorted(os.listdir(directory))
    found = [os.path.join(directory, e[:-len(".index")]) for e in entries if e.endswith(".index")]
    for e in entries:
        full = os.path.join(directory, e)
        if os.path.isfile(full) and e != "checkpoint" and not e.endswith(".index") and (
                e.endswith(".mag") or _has_table_magic(full)):
            found.append(full)
    if len(found) == 1:
        return found[0]
    pointers = [e for e in entries if file_checks.is_lfs_pointer(os.path.join(directory, e))]
    if not found and pointers:
        raise MagentaCheckpointError(f"{directory}: {pointers[:MAX_LISTED]} are git-lfs pointers, not the files "
                                     "themselves (fetch the real files with `git lfs pull`)")
    hint = " (this is a project checkpoint: load it with note_rnn.load)" if "config.json" in entries else ""
    what = f"{len(found)} checkpoints: {[os.path.basename(f) for f in found]}" if found else (
        f"no checkpoint among {entries[:MAX_LISTED]}")
    raise MagentaCheckpointError(f"{directory}: no usable 'checkpoint' state file and {what}{hint}; "
                                 "expected exactly one TF checkpoint (V1 file, V2 prefix.index) or .mag bundle; "
                                 "pass the checkpoint path itself")


def _read_bundle(path: str):
    """Parses a GeneratorBundle; returns (V1 checkpoint bytes, bundle details dict)."""
    from google.protobuf.message import DecodeError
    from note_seq.protobuf import generator_pb2
    with open(path, "rb") as f:
        data = f.read()
    bundle = generator_pb2.GeneratorBundle()
    try:
        bundle.ParseFromString(data)
        problem = None if bundle.checkpoint_file else "it parses as a GeneratorBundle but holds no checkpoint_file"
    except (DecodeError, RuntimeError, ValueError) as e:
        problem = f"it does not parse as a GeneratorBundle ({e})"
    if not problem and bundle.checkpoint_file[0][-8:] != _TABLE_MAGIC:
        problem = "its checkpoint_file[0] is not a V1 TensorFlow checkpoint"
    if problem:
        raise MagentaCheckpointError(
            f"{path} ({len(data)} bytes) is neither a TensorFlow checkpoint (no SSTable footer) nor a Magenta .mag "
            f"bundle: {problem} (a truncated or corrupt download looks like this too). Expected a V1 checkpoint "
            "file, a V2 prefix (prefix.index + data), a directory holding one, or a .mag GeneratorBundle")
    details = {"generator_id": bundle.generator_details.id, "description": bundle.generator_details.description,
               "bundle_description": bundle.bundle_details.description,
               "checkpoint_files": len(bundle.checkpoint_file), "has_metagraph": bool(bundle.metagraph_file)}
    return bundle.checkpoint_file[0], details


def checkpoint_files(kind: str, resolved: str) -> list[str]:
    """Returns the files that hold a checkpoint :func:`resolve_path` found.

    Args:
      kind: ``"V1"``, ``"V2"`` or ``"bundle"``.
      resolved: the file (V1, bundle) or prefix (V2).

    Returns:
      ``[resolved]`` for a single file; for V2 the ``.index`` file and every data shard.

    Raises:
      MagentaCheckpointError: if a V2 data shard is missing.
    """
    if kind != "V2":
        return [resolved]
    directory, base = os.path.split(resolved)
    shards = sorted(os.path.join(directory, e) for e in os.listdir(directory or ".")
                    if e.startswith(base + ".data-") and _SHARD_COUNT_RE.search(e))
    count = int(_SHARD_COUNT_RE.search(shards[0]).group(1)) if shards else 1
    expected = [f"{resolved}.data-{i:05d}-of-{count:05d}" for i in range(count)]
    missing = [os.path.basename(f) for f in expected if not os.path.isfile(f)]
    if missing:
        raise MagentaCheckpointError(f"{resolved}: data shard(s) {missing} missing (a V2 checkpoint is "
                                     f"{os.path.basename(resolved)}.index plus its data shards)")
    return [resolved + ".index"] + expected


def check_checkpoint_files(files: list[str]) -> None:
    """Raises MagentaCheckpointError naming the first file that is empty or a git-lfs pointer."""
    for f in files:
        try:
            file_checks.check_file(f, "checkpoint file")
        except ValueError as e:
            raise MagentaCheckpointError(str(e)) from None


@contextlib.contextmanager
def open_checkpoint(path: str):
    """Opens anything :func:`resolve_path` accepts.

    The checkpoint's files are checked first (present, not empty, not git-lfs pointers).

    Yields:
      ``(reader, source)``: a ``tf.train.CheckpointReader`` (valid inside the block; a bundle's
      temporary file is removed afterwards) and a dict describing the source, whose
      ``files`` lists the user's files holding the checkpoint.

    Raises:
      FileNotFoundError: when nothing exists at ``path``.
      MagentaCheckpointError: naming the file, when a file is missing, empty, a git-lfs
        pointer or cannot be read as a checkpoint.
    """
    kind, resolved = resolve_path(path)
    files = checkpoint_files(kind, resolved)
    check_checkpoint_files(files)
    source = {"path": os.path.abspath(path), "format": kind, "checkpoint": os.path.abspath(resolved),
              "files": [os.path.abspath(f) for f in files]}
    tmp = None
    try:
        if kind == "bundle":
            data, source["bundle"] = _read_bundle(resolved)
            source.update(format="GeneratorBundle (.mag) holding a V1 checkpoint", checkpoint="checkpoint_file[0]")
            tmp = tempfile.mkdtemp(prefix="magenta-bundle-")
            resolved = os.path.join(tmp, "model.ckpt")
            with open(resolved, "wb") as f:
                f.write(data)
        try:
            reader = tf.train.load_checkpoint(resolved)
        except (tf.errors.OpError, ValueError, IndexError, RuntimeError) as e:
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            if tmp:  # name the user's bundle, not our temporary copy of its checkpoint
                msg = msg.replace(resolved, f"{path} (its checkpoint_file[0])")
            raise MagentaCheckpointError(f"{path}: could not read it as a TensorFlow checkpoint ({msg})") from None
        yield reader, source
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
