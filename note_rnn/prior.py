"""Loading a Note-RNN: the project's checkpoints or Magenta's, converted on the fly."""

from __future__ import annotations

import os

from note_rnn import tokens

MELODY_ENCODING = f"the {tokens.NUM_CLASSES}-token melody encoding"


def load(path: str, name: str = "note_rnn", num_classes: int | None = None):
    """Loads a Note-RNN from a project checkpoint, or converts a Magenta checkpoint on the fly.

    Everything is checked before the model is built (see :func:`rl_tuner.checkpoint.read`
    and :func:`note_rnn.magenta.read_magenta_weights`).

    Args:
      path: a project checkpoint directory, a ``note-rnn train`` run directory (its
        ``model/``), or anything ``note_rnn.magenta`` reads (a TF1 checkpoint prefix or
        directory, or a ``.mag`` bundle).
      name: Keras name of the model.
      num_classes: the vocabulary size the caller needs (38 for melodies); None accepts any.

    Returns:
      A :class:`rl_tuner.sequence_model.SequenceRNN`.

    Raises:
      FileNotFoundError: if nothing loadable is at ``path``.
      ValueError: for a broken checkpoint (naming the file and the fault), or one whose
        vocabulary size is not ``num_classes``.
    """
    from rl_tuner import checkpoint
    from rl_tuner import sequence_model as model_lib
    needs = MELODY_ENCODING if num_classes == tokens.NUM_CLASSES else None
    if checkpoint.has_checkpoint_files(checkpoint.model_path(path)):
        return checkpoint.load_model(path, name, num_classes, needs=needs)
    if not os.path.exists(path) and not _looks_like_tf_prefix(path):
        raise FileNotFoundError(f"no Note-RNN checkpoint at {path}")
    from note_rnn import magenta
    layer_sizes, weights = magenta.read_magenta_weights(path)  # a melody model: 38 classes, checked
    checkpoint.check_num_classes(magenta.NUM_CLASSES, num_classes, path, needs)
    net = model_lib.SequenceRNN(model_lib.SequenceRNNConfig(num_classes=magenta.NUM_CLASSES,
                                                            layer_sizes=tuple(layer_sizes)), name=name)
    net.set_named_weights(weights, source=path)
    return net


def _looks_like_tf_prefix(path: str) -> bool:
    return os.path.exists(path + ".index") or os.path.exists(path + ".meta")
