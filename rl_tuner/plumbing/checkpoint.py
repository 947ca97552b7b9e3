"""The sequence-model checkpoint format: a directory readable without TensorFlow.

Layout of a checkpoint directory::

    config.json   {"format": "note_rnn/1", "num_classes": 38, "layer_sizes": [100]}, or, for a
                  model with a stored vocabulary, {"format": "sequence_rnn/1", "num_classes": C,
                  "layer_sizes": [...], "vocabulary": [C distinct strings]}, or, for a model whose
                  input is encoded features or which has an attention layer, {"format":
                  "sequence_rnn/2", ..., "input_size": F or null, "attention_length": L,
                  "encoder": {task's encoder settings} or null}
    weights.npz   lstm_{i}/kernel, lstm_{i}/recurrent_kernel, lstm_{i}/bias (Keras gate
                  order i, f, c, o, forget bias folded in), dense/kernel, dense/bias, and
                  attention/* for an attention model (SequenceRNNConfig.weight_shapes)
    card.json     optional: data, hyperparameters, metrics, command to reproduce

The directory is written atomically (a reader never sees half a checkpoint).
"""

from __future__ import annotations

import os

import numpy as np

from rl_tuner.plumbing import atomic, file_checks, output_dir

FORMAT = "note_rnn/1"  # no vocabulary (the format of the shipped Note-RNN; still written for such models)
VOCABULARY_FORMAT = "sequence_rnn/1"  # with a stored vocabulary
ENCODED_FORMAT = "sequence_rnn/2"  # with input_size, attention_length and the task's encoder settings
FORMATS = (FORMAT, VOCABULARY_FORMAT, ENCODED_FORMAT)
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.npz"
CARD_FILE = "card.json"
CHECKPOINT_FILES = (CONFIG_FILE, WEIGHTS_FILE, CARD_FILE)


def is_checkpoint(path: str) -> bool:
    """True if ``path`` is a directory in this project's checkpoint format."""
    return os.path.isfile(os.path.join(path, CONFIG_FILE)) and os.path.isfile(os.path.join(path, WEIGHTS_FILE))


def save(path: str, layer_sizes, weights: dict, num_classes: int, card: dict | None = None,
         command: str | None = None, overwrite: bool = False, vocabulary=None, input_size: int | None = None,
         attention_length: int = 0, encoder: dict | None = None) -> str:
    """Writes a checkpoint directory atomically.

    Args:
      path: target directory. An existing one is replaced only if it holds nothing but a
        checkpoint's files, or is ``command``'s earlier output, or with ``overwrite``; other
        files in it are kept (see :func:`rl_tuner.plumbing.output_dir.directory`).
      layer_sizes: LSTM units per layer.
      weights: NumPy weights keyed by checkpoint name; checked against the shapes.
      num_classes: vocabulary size.
      card: optional JSON-serialisable description (data, hyperparameters, metrics).
      command: the command writing it (recorded in a manifest), e.g. "note-rnn import-magenta".
      overwrite: replace a directory that is not this writer's earlier output.
      vocabulary: optional symbol of each token (stored; format ``sequence_rnn/1``).
      input_size, attention_length: see :class:`rl_tuner.models.sequence_model.SequenceRNNConfig`.
      encoder: the task's input encoder settings (JSON), read back by the task's loader.
        Any of these three makes the format ``sequence_rnn/2``.

    Returns:
      ``path``.

    Raises:
      rl_tuner.plumbing.outputs.OutputError: if ``path`` may not be replaced.
    """
    from rl_tuner.models.sequence_model import SequenceRNNConfig, check_weight_shapes  # imports TensorFlow
    config = SequenceRNNConfig(num_classes=num_classes, layer_sizes=tuple(layer_sizes), vocabulary=vocabulary,
                               input_size=input_size, attention_length=attention_length)
    check_weight_shapes(config, weights)
    with output_dir.directory(path, command, overwrite, owned=CHECKPOINT_FILES) as tmp:
        meta = {"format": FORMAT, "num_classes": config.num_classes, "layer_sizes": list(config.layer_sizes)}
        if config.vocabulary is not None:
            meta.update(format=VOCABULARY_FORMAT, vocabulary=list(config.vocabulary))
        if config.input_size is not None or config.attention_length or encoder is not None:
            meta.update(format=ENCODED_FORMAT, input_size=config.input_size,
                        attention_length=config.attention_length, encoder=encoder)
        atomic.write_json(os.path.join(tmp, CONFIG_FILE), meta)
        np.savez(os.path.join(tmp, WEIGHTS_FILE), **{k: np.asarray(v, np.float32) for k, v in weights.items()})
        if card is not None:
            atomic.write_json(os.path.join(tmp, CARD_FILE), card)
    return path


def save_model(path: str, model, card: dict | None = None, command: str | None = None,
               overwrite: bool = False) -> str:
    """Writes a :class:`rl_tuner.models.sequence_model.SequenceRNN` (and its vocabulary, input size,
    attention and input encoder settings, if any) as a checkpoint directory (see :func:`save`)."""
    encoder = model.input_encoder.spec() if getattr(model, "input_encoder", None) is not None else None
    return save(path, model.config.layer_sizes, model.get_named_weights(), model.config.num_classes, card,
                command=command, overwrite=overwrite, vocabulary=model.config.vocabulary,
                input_size=model.config.input_size, attention_length=model.config.attention_length, encoder=encoder)


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
    file_checks.check_path(path, "any")  # a FIFO, a link loop, a dangling link: said what it is
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    config_path = os.path.join(path, CONFIG_FILE)
    weights_path = os.path.join(path, WEIGHTS_FILE)
    for p in (config_path, weights_path):
        if not os.path.isfile(p):
            raise FileNotFoundError(f"{path} is not a sequence-model checkpoint directory: {os.path.basename(p)} is missing")
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
      The config dict, with ``num_classes`` an int >= 2, ``layer_sizes`` a non-empty list
      of positive ints and, in format ``sequence_rnn/1``, ``vocabulary`` a list of
      ``num_classes`` distinct strings.

    Raises:
      FileNotFoundError: if the file is missing.
      ValueError: naming the file, for a broken file, another format or impossible sizes.
    """
    config = file_checks.read_json(config_path, "checkpoint config")
    if config.get("format") not in FORMATS:
        raise ValueError(f"{config_path}: unknown checkpoint format {config.get('format')!r}, expected {FORMAT!r}")
    classes, sizes = config.get("num_classes"), config.get("layer_sizes")
    if not _is_int(classes) or classes < 2:
        raise ValueError(f"{config_path}: num_classes must be an integer >= 2, got {classes!r}")
    if not isinstance(sizes, list) or not sizes or not all(_is_int(n) and n >= 1 for n in sizes):
        raise ValueError(f"{config_path}: layer_sizes must be a non-empty list of positive integers, got {sizes!r}")
    if config["format"] == ENCODED_FORMAT:
        size, length, encoder = config.get("input_size"), config.get("attention_length"), config.get("encoder")
        if size is not None and (not _is_int(size) or size < 1):
            raise ValueError(f"{config_path}: input_size must be null or a positive integer, got {size!r}")
        if not _is_int(length) or length < 0:
            raise ValueError(f"{config_path}: attention_length must be an integer >= 0, got {length!r}")
        if encoder is not None and not isinstance(encoder, dict):
            raise ValueError(f"{config_path}: encoder must be null or a JSON object, got {encoder!r}")
    if "vocabulary" in config or config["format"] == VOCABULARY_FORMAT:
        vocabulary = config.get("vocabulary")
        if (not isinstance(vocabulary, list) or len(vocabulary) != classes
                or not all(isinstance(v, str) for v in vocabulary) or len(set(vocabulary)) != classes):
            raise ValueError(f"{config_path}: vocabulary must be a list of {classes} distinct strings")
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


def load_model(path: str, name: str = "note_rnn", num_classes: int | None = None, needs: str | None = None,
               make_encoder=None):
    """Loads a sequence model from a checkpoint directory of this format.

    Everything is checked before the model is built (see :func:`read`). Tasks whose priors
    may come in other formats (e.g. Magenta's melody checkpoints) convert them in their own
    loader (``note_rnn.load``).

    Args:
      path: a checkpoint directory, or a training run directory holding one as ``model/``
        (``note-rnn train``).
      name: Keras name of the model.
      num_classes: the vocabulary size the caller's task needs; None accepts any.
      needs: what ``num_classes`` is, for the error message (e.g. "the 38-token melody
        encoding").
      make_encoder: the task's ``(encoder settings or None, config, source) -> input encoder
        or None``; required for a model whose ``input_size`` is set.

    Returns:
      A :class:`rl_tuner.models.sequence_model.SequenceRNN`.

    Raises:
      FileNotFoundError: if there is no checkpoint at ``path``.
      ValueError: for a broken checkpoint (naming the file and the fault), or one whose
        vocabulary size is not ``num_classes``.
    """
    from rl_tuner.models import sequence_model as model_lib
    path = model_path(path)
    config, weights = read(path)  # names a missing config.json or weights.npz
    check_num_classes(config["num_classes"], num_classes, os.path.join(path, CONFIG_FILE), needs)
    vocabulary = tuple(config["vocabulary"]) if "vocabulary" in config else None
    cfg = model_lib.SequenceRNNConfig(num_classes=config["num_classes"], layer_sizes=tuple(config["layer_sizes"]),
                                      vocabulary=vocabulary, input_size=config.get("input_size"),
                                      attention_length=config.get("attention_length", 0))
    model_lib.check_weight_shapes(cfg, weights, source=os.path.join(path, WEIGHTS_FILE))
    config_path = os.path.join(path, CONFIG_FILE)
    encoder = make_encoder(config.get("encoder"), cfg, config_path) if make_encoder is not None else None
    if encoder is None and not cfg.one_hot_inputs:
        raise ValueError(f"{config_path}: the model reads encoded inputs (input_size {cfg.input_size}, encoder "
                         f"{config.get('encoder')}) that this task cannot compute")
    net = model_lib.SequenceRNN(cfg, name=name, input_encoder=encoder)
    net.set_named_weights(weights, source=path)
    return net


def model_path(path: str) -> str:
    """``path`` itself, or its ``model/`` folder for a ``note-rnn train`` run directory."""
    if not is_checkpoint(path) and is_checkpoint(os.path.join(path, "model")):
        return os.path.join(path, "model")
    return path


def has_checkpoint_files(path: str) -> bool:
    """True if ``path`` holds a checkpoint's config.json or weights.npz (maybe broken)."""
    return any(os.path.isfile(os.path.join(path, f)) for f in (CONFIG_FILE, WEIGHTS_FILE))


def check_num_classes(found: int, needed: int | None, source: str, needs: str | None = None) -> None:
    """Raises ValueError naming ``source`` unless ``needed`` is None or equals ``found``."""
    if needed is not None and found != needed:
        raise ValueError(f"{source}: the model has {found} classes, but this task needs {needed}"
                         + (f" ({needs})" if needs else ""))


def remove_interrupted_saves(directory: str) -> list[str]:
    """Removes the ``ckpt-N_temp`` folders of saves a killed trainer left in ``directory``.

    ``tf.train.CheckpointManager.save`` writes into ``<prefix>_temp/`` and renames at the
    end; a ``kill -9`` in between leaves that folder (as big as a checkpoint, replay
    included) for ever. Call it only while holding the run's lock (:mod:`rl_tuner.plumbing.runs`),
    so no other process can be writing it.

    Returns:
      The removed folder names.
    """
    try:
        entries = sorted(os.listdir(directory))
    except OSError:
        return []
    return [e for e in entries if e.endswith("_temp") and os.path.isdir(os.path.join(directory, e))
            and atomic.remove_entry(os.path.join(directory, e))]


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
