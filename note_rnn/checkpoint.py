"""The project's Note-RNN checkpoint format: a directory readable without TensorFlow.

Layout of a checkpoint directory::

    config.json   {"format": "note_rnn/1", "num_classes": 38, "layer_sizes": [100]}
    weights.npz   lstm_{i}/kernel, lstm_{i}/recurrent_kernel, lstm_{i}/bias (Keras gate
                  order i, f, c, o, forget bias folded in), dense/kernel, dense/bias
    card.json     optional: data, hyperparameters, metrics, command to reproduce

The directory is written atomically (a reader never sees half a checkpoint).
"""

from __future__ import annotations

import json
import os

import numpy as np

from note_rnn import atomic

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
        files in it are kept (see :func:`note_rnn.atomic.directory`).
      layer_sizes: LSTM units per layer.
      weights: NumPy weights keyed by checkpoint name; checked against the shapes.
      num_classes: vocabulary size.
      card: optional JSON-serialisable description (data, hyperparameters, metrics).
      command: the command writing it (recorded in a manifest), e.g. "note-rnn import-magenta".
      overwrite: replace a directory that is not this writer's earlier output.

    Returns:
      ``path``.

    Raises:
      note_rnn.outputs.OutputError: if ``path`` may not be replaced.
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
    """Reads a checkpoint directory.

    Returns:
      (config dict, weights dict of NumPy arrays).

    Raises:
      FileNotFoundError: if the directory or one of its files is missing.
      ValueError: if the config is not of this format.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    config_path = os.path.join(path, CONFIG_FILE)
    weights_path = os.path.join(path, WEIGHTS_FILE)
    for p in (config_path, weights_path):
        if not os.path.isfile(p):
            raise FileNotFoundError(f"{path} is not a Note-RNN checkpoint directory: {os.path.basename(p)} is missing")
    with open(config_path) as f:
        config = json.load(f)
    if config.get("format") != FORMAT:
        raise ValueError(f"{config_path}: unknown checkpoint format {config.get('format')!r}, expected {FORMAT!r}")
    with np.load(weights_path) as data:
        weights = {k: data[k] for k in data.files}
    return config, weights


def read_card(path: str) -> dict | None:
    """Returns the checkpoint's card, or None when it has none."""
    card_path = os.path.join(path, CARD_FILE)
    if not os.path.isfile(card_path):
        return None
    with open(card_path) as f:
        return json.load(f)


def load_model(path: str, name: str = "note_rnn"):
    """Loads a Note-RNN from a project checkpoint, or converts a Magenta checkpoint on the fly.

    Args:
      path: a project checkpoint directory, a ``note-rnn train`` run directory (its
        ``model/``), or anything ``note_rnn.magenta`` reads (a TF1 checkpoint prefix or
        directory, or a ``.mag`` bundle).
      name: Keras name of the model.

    Returns:
      A :class:`note_rnn.model.NoteRNN`.
    """
    from note_rnn import model as model_lib
    if not is_checkpoint(path) and is_checkpoint(os.path.join(path, "model")):
        path = os.path.join(path, "model")  # a `note-rnn train` run directory: its best model
    if is_checkpoint(path) or os.path.isfile(os.path.join(path, CONFIG_FILE)):
        config, weights = read(path)  # names a missing weights.npz
        cfg = model_lib.NoteRNNConfig(num_classes=config["num_classes"], layer_sizes=tuple(config["layer_sizes"]))
        net = model_lib.NoteRNN(cfg, name=name)
        net.set_named_weights(weights, source=path)
        return net
    if not os.path.exists(path) and not _looks_like_tf_prefix(path):
        raise FileNotFoundError(f"no Note-RNN checkpoint at {path}")
    from note_rnn import magenta
    layer_sizes, weights = magenta.read_magenta_weights(path)
    net = model_lib.NoteRNN(model_lib.NoteRNNConfig(layer_sizes=tuple(layer_sizes)), name=name)
    net.set_named_weights(weights, source=path)
    return net


def _looks_like_tf_prefix(path: str) -> bool:
    return os.path.exists(path + ".index") or os.path.exists(path + ".meta")
