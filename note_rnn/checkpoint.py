"""The project's Note-RNN checkpoint format: a directory readable without TensorFlow.

Layout of a checkpoint directory::

    config.json   {"format": "note_rnn/1", "num_classes": 38, "layer_sizes": [100]}
    weights.npz   lstm_{i}/kernel, lstm_{i}/recurrent_kernel, lstm_{i}/bias (Keras gate
                  order i, f, c, o, forget bias folded in), dense/kernel, dense/bias
    card.json     optional: data, hyperparameters, metrics, command to reproduce

The directory is written atomically (a reader never sees half a checkpoint).
"""

from __future__ import annotations

import os

import numpy as np

from rl_tuner import atomic, file_checks
from note_rnn import tokens

FORMAT = "note_rnn/1"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.npz"
CARD_FILE = "card.json"
CHECKPOINT_FILES = (CONFIG_FILE, WEIGHTS_FILE, CARD_FILE)


def is_checkpoint(path: str) -> bool:
    """True if ``path`` is a directory in this project's checkpoint format."""
    return os.path.isfile(os.path.join(path, CONFIG_FILE)) and os.path.isfile(os.path.join(path, WEIGHTS_FILE))


def save(path: str, layer_sizes, weights: dict, num_classes: int = 38, card: dict | None = None,
         command: str | None = None, overwrite: bool = False) -> str:
    """Writes a checkpoint directory atomically.

    Args:
      path: target directory. An existing one is replaced only if it holds nothing but a
        checkpoint's files, or is ``command``'s earlier output, or with ``overwrite``; other
        files in it are kept (see :func:`rl_tuner.atomic.directory`).
      layer_sizes: LSTM units per layer.
      weights: NumPy weights keyed by checkpoint name; checked against the shapes.
      num_classes: vocabulary size.
      card: optional JSON-serialisable description (data, hyperparameters, metrics).
      command: the command writing it (recorded in a manifest), e.g. "note-rnn import-magenta".
      overwrite: replace a directory that is not this writer's earlier output.

    Returns:
      ``path``.

    Raises:
      rl_tuner.outputs.OutputError: if ``path`` may not be replaced.
    """
    from note_rnn.model import NoteRNNConfig, check_weight_shapes  # imports TensorFlow
    config = NoteRNNConfig(num_classes=num_classes, layer_sizes=tuple(layer_sizes))
    check_weight_shapes(config, weights)
    with atomic.directory(path, command, overwrite, owned=CHECKPOINT_FILES) as tmp:
        atomic.write_json(os.path.join(tmp, CONFIG_FILE), {
            "format": FORMAT, "num_classes": config.num_classes, "layer_sizes": list(config.layer_sizes)})
        np.savez(os.path.join(tmp, WEIGHTS_FILE), **{k: np.asarray(v, np.float32) for k, v in weights.items()})
        if card is not None:
            atomic.write_json(os.path.join(tmp, CARD_FILE), card)
    return path


def save_model(path: str, model, card: dict | None = None, command: str | None = None,
               overwrite: bool = False) -> str:
    """Writes a :class:`note_rnn.model.NoteRNN` as a checkpoint directory (see :func:`save`)."""
    return save(path, model.config.layer_sizes, model.get_named_weights(), model.config.num_classes, card,
                command=command, overwrite=overwrite)


def read(path: str) -> tuple[dict, dict]:
    """Reads and checks a checkpoint directory (no TensorFlow).

    Every file is checked before anything is built from it: ``config.json`` (valid JSON of
    this format with a sane ``num_classes`` and ``layer_sizes``), ``weights.npz`` (a complete
    archive of plain finite float arrays) and, if present, ``card.json`` (a JSON object).
    Whether the weights' names and shapes fit the config is checked by :func:`load_model`.

    Args:
      path: the checkpoint directory.

    Returns:
      (config dict, weights dict of NumPy arrays).

    Raises:
      FileNotFoundError: if the directory or one of its files is missing.
      ValueError: naming the file and the fault: empty, truncated or corrupt, a git-lfs
        pointer, malformed JSON, another format, impossible sizes, NaN or infinite weights.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    config_path = os.path.join(path, CONFIG_FILE)
    weights_path = os.path.join(path, WEIGHTS_FILE)
    for p in (config_path, weights_path):
        if not os.path.isfile(p):
            raise FileNotFoundError(f"{path} is not a Note-RNN checkpoint directory: {os.path.basename(p)} is missing")
    config = read_config(config_path)
    weights = file_checks.load_npz(weights_path, "weights archive")
    for name, value in weights.items():
        if value.dtype.kind != "f":
            raise ValueError(f"{weights_path}: weight {name} has dtype {value.dtype}, expected floating point")
    file_checks.check_finite(weights, weights_path)
    read_card(path)
    return config, weights


def read_config(config_path: str) -> dict:
    """Reads and checks a checkpoint's ``config.json``.

    Returns:
      The config dict, with ``num_classes`` an int >= 2 and ``layer_sizes`` a non-empty list
      of positive ints.

    Raises:
      FileNotFoundError: if the file is missing.
      ValueError: naming the file, for a broken file, another format or impossible sizes.
    """
    config = file_checks.read_json(config_path, "checkpoint config")
    if config.get("format") != FORMAT:
        raise ValueError(f"{config_path}: unknown checkpoint format {config.get('format')!r}, expected {FORMAT!r}")
    classes, sizes = config.get("num_classes"), config.get("layer_sizes")
    if not _is_int(classes) or classes < 2:
        raise ValueError(f"{config_path}: num_classes must be an integer >= 2, got {classes!r}")
    if not isinstance(sizes, list) or not sizes or not all(_is_int(n) and n >= 1 for n in sizes):
        raise ValueError(f"{config_path}: layer_sizes must be a non-empty list of positive integers, got {sizes!r}")
    return config


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_card(path: str) -> dict | None:
    """Returns the checkpoint's card, or None when it has none.

    Raises:
      ValueError: naming ``card.json`` if it is empty, a git-lfs pointer or not a JSON object.
    """
    card_path = os.path.join(path, CARD_FILE)
    if not os.path.isfile(card_path):
        return None
    return file_checks.read_json(card_path, "checkpoint card")


def load_model(path: str, name: str = "note_rnn", num_classes: int | None = None):
    """Loads a Note-RNN from a project checkpoint, or converts a Magenta checkpoint on the fly.

    Everything is checked before the model is built (see :func:`read` and
    :func:`note_rnn.magenta.read_magenta`).

    Args:
      path: a project checkpoint directory, a ``note-rnn train`` run directory (its
        ``model/``), or anything ``note_rnn.magenta`` reads (a TF1 checkpoint prefix or
        directory, or a ``.mag`` bundle).
      name: Keras name of the model.
      num_classes: the vocabulary size the caller's task needs (38 for melodies); None
        accepts any.

    Returns:
      A :class:`note_rnn.model.NoteRNN`.

    Raises:
      FileNotFoundError: if nothing loadable is at ``path``.
      ValueError: for a broken checkpoint (naming the file and the fault), or one whose
        vocabulary size is not ``num_classes``.
    """
    from note_rnn import model as model_lib
    if not is_checkpoint(path) and is_checkpoint(os.path.join(path, "model")):
        path = os.path.join(path, "model")  # a `note-rnn train` run directory: its best model
    if any(os.path.isfile(os.path.join(path, f)) for f in (CONFIG_FILE, WEIGHTS_FILE)):
        config, weights = read(path)  # names a missing config.json or weights.npz
        _check_num_classes(config["num_classes"], num_classes, os.path.join(path, CONFIG_FILE))
        cfg = model_lib.NoteRNNConfig(num_classes=config["num_classes"], layer_sizes=tuple(config["layer_sizes"]))
        model_lib.check_weight_shapes(cfg, weights, source=os.path.join(path, WEIGHTS_FILE))
        net = model_lib.NoteRNN(cfg, name=name)
        net.set_named_weights(weights, source=path)
        return net
    if not os.path.exists(path) and not _looks_like_tf_prefix(path):
        raise FileNotFoundError(f"no Note-RNN checkpoint at {path}")
    from note_rnn import magenta
    layer_sizes, weights = magenta.read_magenta_weights(path)  # a melody model: 38 classes, checked
    _check_num_classes(magenta.NUM_CLASSES, num_classes, path)
    net = model_lib.NoteRNN(model_lib.NoteRNNConfig(layer_sizes=tuple(layer_sizes)), name=name)
    net.set_named_weights(weights, source=path)
    return net


def _check_num_classes(found: int, needed: int | None, source: str) -> None:
    if needed is not None and found != needed:
        raise ValueError(f"{source}: the model has {found} classes, but this task needs {needed}"
                         + (f" (the {needed}-token melody encoding)" if needed == tokens.NUM_CLASSES else ""))


def restore_training_state(ckpt, prefix: str):
    """Restores a training run's ``tf.train.Checkpoint``; a one-line error if it is broken.

    Args:
      ckpt: the run's ``tf.train.Checkpoint`` (model, optimiser, counters...).
      prefix: the saved checkpoint to restore (``CheckpointManager.latest_checkpoint``).

    Returns:
      The restore status (e.g. for ``expect_partial()`` when only part of it will be used).

    Raises:
      ValueError: naming the checkpoint's files, when they are truncated, corrupt, git-lfs
        pointers or hold another run's variables (TensorFlow raises IndexError, OpError or
        AssertionError for these).
    """
    directory = os.path.dirname(prefix)
    files = sorted(os.path.join(directory, f) for f in os.listdir(directory)
                   if f.startswith(os.path.basename(prefix) + "."))
    try:
        return ckpt.restore(prefix).assert_existing_objects_matched()
    except Exception as e:  # pylint: disable=broad-except
        detail = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise ValueError(
            f"{prefix}: the run's saved state cannot be restored ({type(e).__name__}: {detail}); its files are "
            f"truncated, corrupt or from another run: {file_checks.describe_files(files)}. Move {directory} away "
            "to start the run from scratch") from None


def _looks_like_tf_prefix(path: str) -> bool:
    return os.path.exists(path + ".index") or os.path.exists(path + ".meta")
