"""Sharded TFRecord data sets: the ``--format tfrecord`` output of ``note-rnn prepare`` and
``molecules prepare``, and how the trainers read it back.

A split of N shards is written as ``{split}-00000-of-0000N.tfrecord`` ... ``{split}-0000(N-1)
-of-0000N.tfrecord`` (the naming of TensorFlow Datasets and Beam's ``WriteToTFRecord``), one
``tf.train.Example`` per sequence (melody or molecule) holding its token ids as an int64 list
(feature ``tokens``) and one text feature (``source`` of a melody, the canonical ``smiles`` of
a molecule) as bytes. The sequences are cut into N contiguous blocks whose sizes differ by at
most one (shard k holds sequences ``floor(k n / N)`` to ``floor((k + 1) n / N) - 1``), so that
reading the shards in index order gives the sequences in their original order; with more
shards than sequences some shards are empty files (still valid TFRecord files).

Reading goes through ``tf.data.TFRecordDataset`` over the shard files in index order (no
interleaving), so the order is deterministic. A corrupt or truncated shard, a missing shard
(``train-00001-of-00004.tfrecord`` absent) or mixed shard counts are a ValueError naming the
file.

:func:`add_arguments` defines the ``--format`` and ``--shards`` flags of both prepare commands
(each names its own default format, ``npz`` or ``smi.gz``). TensorFlow is imported only when
shards are written or read (``--help`` and the default formats stay light).
"""

from __future__ import annotations

import os
import re
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

TFRECORD = "tfrecord"
SUFFIX = ".tfrecord"
TOKENS = "tokens"  # the int64 feature of every Example
_SHARD = re.compile(r"^(?P<split>.+)-(?P<index>\d{5,})-of-(?P<count>\d{5,})\.tfrecord$")  # 5 digits or more
READ_BATCH = 4096  # Examples parsed per tf.io.parse_example call


def shard_name(split: str, index: int, count: int) -> str:
    """The file name of shard ``index`` (0-based) of ``count`` of a split, e.g.
    ``train-00000-of-00004.tfrecord``."""
    return f"{split}-{index:05d}-of-{count:05d}{SUFFIX}"


def shard_bounds(num_items: int, shards: int) -> List[Tuple[int, int]]:
    """[start, stop) of each shard's contiguous block of items; sizes differ by at most one.

    Args:
      num_items: number of sequences (>= 0).
      shards: number of shards (>= 1).

    Returns:
      ``shards`` pairs ``(floor(k n / N), floor((k + 1) n / N))``, k = 0..N-1.
    """
    return [(k * num_items // shards, (k + 1) * num_items // shards) for k in range(shards)]


def check_format(fmt: str, native: str, shards: int) -> None:
    """Checks a prepare command's ``format`` and ``shards`` settings.

    Args:
      fmt: the chosen format.
      native: the command's own (default) format, e.g. "npz" or "smi.gz".
      shards: the number of shards.

    Raises:
      ValueError: an unknown format, shards < 1, or shards > 1 with the native format.
    """
    if fmt not in (native, TFRECORD):
        raise ValueError(f"format must be {native!r} or {TFRECORD!r}, got {fmt!r}")
    if isinstance(shards, bool) or not isinstance(shards, (int, np.integer)) or shards < 1:
        raise ValueError(f"shards must be an integer >= 1, got {shards!r}")
    if shards != 1 and fmt != TFRECORD:
        raise ValueError(f"--shards {shards} needs --format {TFRECORD} (the {native} format is one file per split)")


def add_arguments(parser, native: str) -> None:
    """Adds ``--format {native,tfrecord}`` (default ``native``) and ``--shards N`` (default 1) to
    a prepare command's parser (dests ``format`` and ``shards``, as in its PrepareConfig)."""
    from rl_tuner.plumbing.cli_utils import range_type  # pylint: disable=import-outside-toplevel
    from rl_tuner.plumbing.ranges import COUNT  # pylint: disable=import-outside-toplevel
    parser.add_argument("--format", dest="format", choices=(native, TFRECORD), default=native,
                        help=f"output format: {native} (one file per split) or {TFRECORD} (sharded TFRecord files "
                             "SPLIT-0000k-of-0000N.tfrecord, one tf.train.Example per sequence with its token ids; "
                             "what a cluster's tf.data input reads) (default: %(default)s)")
    parser.add_argument("--shards", dest="shards", type=range_type(int, COUNT), default=1,
                        help=f"TFRecord shards per split (with --format {TFRECORD}; sizes differ by at most one "
                             "sequence) (default: %(default)s)")


def _tf():
    from rl_tuner._tf_setup import use_legacy_keras  # pylint: disable=import-outside-toplevel
    use_legacy_keras()
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    return tf


def write_split(directory: str, split: str, tokens: Sequence[Sequence[int]], shards: int,
                text_key: str, texts: Sequence[str]) -> List[str]:
    """Writes one split as ``shards`` TFRecord files in ``directory``.

    Each file is written under a temporary name (``.NAME.tmp``) and then renamed.

    Args:
      directory: an existing folder (a prepare command's temporary output folder).
      split: the split's name ("train", "validation", "test").
      tokens: the token ids of each sequence (any integer sequences), in order.
      shards: number of files (>= 1); more shards than sequences gives empty files.
      text_key: name of the bytes feature ("source", "smiles").
      texts: one text per sequence (stored UTF-8 encoded).

    Returns:
      The file names (not paths), in shard order.

    Raises:
      ValueError: ``tokens`` and ``texts`` differ in length, or shards < 1.
    """
    if len(tokens) != len(texts):
        raise ValueError(f"{len(tokens)} token sequences but {len(texts)} texts")
    if shards < 1:
        raise ValueError(f"shards must be >= 1, got {shards}")
    tf = _tf()
    names = []
    for index, (start, stop) in enumerate(shard_bounds(len(tokens), shards)):
        name = shard_name(split, index, shards)
        temporary = os.path.join(directory, f".{name}.tmp")
        with tf.io.TFRecordWriter(temporary) as writer:
            for k in range(start, stop):
                feature = {
                    TOKENS: tf.train.Feature(int64_list=tf.train.Int64List(value=[int(t) for t in tokens[k]])),
                    text_key: tf.train.Feature(bytes_list=tf.train.BytesList(value=[texts[k].encode("utf-8")])),
                }
                example = tf.train.Example(features=tf.train.Features(feature=feature))
                # deterministic: the features' map in key order, the same bytes under every protobuf version
                writer.write(example.SerializeToString(deterministic=True))
        os.replace(temporary, os.path.join(directory, name))
        names.append(name)
    return names


def _shards(data_dir: str) -> Dict[str, Dict[int, set]]:
    """{split: {count: {indices}}} of the shard files in ``data_dir``."""
    found: Dict[str, Dict[int, set]] = {}
    try:
        names = os.listdir(data_dir)
    except OSError:
        return found
    for name in names:
        match = _SHARD.match(name)
        if match:
            found.setdefault(match["split"], {}).setdefault(int(match["count"]), set()).add(int(match["index"]))
    return found


def shard_files_of(data_dir: str, splits: Sequence[str]) -> List[str]:
    """The names of the shard files of ``splits`` in ``data_dir``, of any shard count: the
    names a prepare command writes, so a replaced output (``--overwrite``) keeps none of
    another writer's shards beside its own (which would make a split of mixed counts)."""
    try:
        names = os.listdir(data_dir)
    except OSError:
        return []
    return sorted(name for name in names if (match := _SHARD.match(name)) and match["split"] in splits)


def split_files(data_dir: str, split: str) -> List[str]:
    """The shard paths of one split in index order ([] when the split has none).

    Raises:
      ValueError: shards of different counts (``train-00000-of-00002`` beside
        ``train-00000-of-00003``), or a missing shard (the message names its path).
    """
    counts = _shards(data_dir).get(split, {})
    if not counts:
        return []
    if len(counts) > 1:
        names = ", ".join(shard_name(split, 0, c) for c in sorted(counts))
        raise ValueError(f"{data_dir}: the {split} split has shards of different counts ({names}); "
                         "prepare the data set again into a new --out")
    (count, indices), = counts.items()
    for index in range(count):
        if index not in indices:
            path = os.path.join(data_dir, shard_name(split, index, count))
            raise ValueError(f"{path} is missing: the {split} split has {count} shards; prepare the data set again")
    return [os.path.join(data_dir, shard_name(split, index, count)) for index in range(count)]


def detect_format(data_dir: str, native: str, native_files: Sequence[str]) -> str:
    """The format of a prepared data set from the files present: ``native`` or "tfrecord".

    Args:
      data_dir: the data set's folder.
      native: the name of the default format ("npz", "smi.gz").
      native_files: the file names of the default format (e.g. "train.npz", "validation.npz").

    Returns:
      "tfrecord" if the folder holds shard files of the splits of ``native_files``, else
      ``native`` (also when it holds nothing: the caller's loader then names the missing file).

    Raises:
      ValueError: the folder holds files of both formats (the message names the folder).
    """
    present = [name for name in native_files if os.path.isfile(os.path.join(data_dir, name))]
    splits = {name[:-len(native) - 1] for name in native_files if name.endswith("." + native)}
    if not set(_shards(data_dir)) & splits:  # (a user's own mine-00000-of-00001.tfrecord is no split)
        return native
    if present:
        raise ValueError(f"{data_dir} holds both {native} files ({', '.join(present)}) and TFRecord shards "
                         f"(*{SUFFIX}); keep one format in a data set folder (prepare into a new --out)")
    return TFRECORD


def read_split(data_dir: str, split: str, text_key: str) -> Tuple[List[np.ndarray], List[str]]:
    """Reads one split's shards back, in order, through ``tf.data.TFRecordDataset``.

    Args:
      data_dir: the data set's folder.
      split: the split's name.
      text_key: the bytes feature to return with the tokens ("source", "smiles").

    Returns:
      (token arrays, texts): one 1-D int64 array and one str per sequence, in the order
      they were written.

    Raises:
      FileNotFoundError: the split has no shard.
      ValueError: a missing, unreadable, corrupt or truncated shard (also one cut at a record
        boundary or emptied, seen from the shard sizes, which :func:`write_split` balances), or
        a record that is not such an Example or whose text is not UTF-8 (the message names the
        shard file).
    """
    files = split_files(data_dir, split)
    if not files:
        raise FileNotFoundError(f"{os.path.join(data_dir, shard_name(split, 0, 1))} (or another shard count) not "
                                f"found: {data_dir} has no {split} split")
    tf = _tf()
    spec = {TOKENS: tf.io.RaggedFeature(tf.int64), text_key: tf.io.FixedLenFeature([], tf.string)}
    tokens: List[np.ndarray] = []
    texts: List[str] = []
    sizes = []
    for path in files:
        dataset = tf.data.TFRecordDataset(path).batch(READ_BATCH).map(lambda records: tf.io.parse_example(records, spec))
        try:
            for batch in dataset:
                ragged = batch[TOKENS]
                values, splits = ragged.flat_values.numpy(), ragged.row_splits.numpy()
                tokens += np.split(values, splits[1:-1])
                texts += [t.decode("utf-8") for t in batch[text_key].numpy()]
        except tf.errors.OpError as e:  # DataLoss, InvalidArgument; FailedPrecondition (a folder), PermissionDenied
            reason = (e.message or type(e).__name__).strip().splitlines()[0]
            reason = re.sub(r"^\{\{function_node [^}]*\}\}\s*|\s*\[Op:\w+\]( name:.*)?$", "", reason)  # TF's wrapping
            what = ("corrupt or truncated TFRecord shard" if isinstance(e, (tf.errors.DataLossError,
                                                                            tf.errors.InvalidArgumentError))
                    else "cannot read the TFRecord shard")
            raise ValueError(f"{path}: {what} ({reason}); prepare the data set again") from None
        except UnicodeDecodeError as e:
            raise ValueError(f"{path}: a record's {text_key} is not UTF-8 text ({e.reason}); prepare the data set "
                             "again") from None
        sizes.append(len(texts) - sum(sizes))
    _check_sizes(files, sizes)
    return tokens, texts


def _check_sizes(files: Sequence[str], sizes: Sequence[int]) -> None:
    """Raises ValueError naming the smallest shard unless the shard sizes are those
    :func:`write_split` writes for their total (:func:`shard_bounds`): a shard cut at a record
    boundary, or emptied, reads without a CRC error but loses sequences."""
    expected = [stop - start for start, stop in shard_bounds(sum(sizes), len(sizes))]
    if list(sizes) != expected:
        k = int(np.argmin(sizes))
        raise ValueError(f"{files[k]}: truncated TFRecord shard (it holds {sizes[k]} sequences, the split's other "
                         f"shards {min(sizes[:k] + sizes[k + 1:])} to {max(sizes[:k] + sizes[k + 1:])}; the shards "
                         "of a split differ by at most one); prepare the data set again")


def summary_entry(shards: int, files: Dict[str, List[str]], text_key: str) -> dict:
    """The ``records`` entry of a TFRecord data set's summary.json: format, shard count, the
    shard file names of each split and the features of each Example."""
    return {"format": TFRECORD, "shards": shards, "files": files,
            "features": {TOKENS: "int64 list (token ids)", text_key: "bytes (UTF-8)"}}

