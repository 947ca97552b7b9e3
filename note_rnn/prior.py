"""Loading a Note-RNN: the project's checkpoints or Magenta's, converted on the fly."""

from __future__ import annotations

import os

from note_rnn import tokens

MELODY_ENCODING = f"the {tokens.NUM_CLASSES}-token melody encoding"


def load(path: str, name: str = "note_rnn", num_classes: int | None = None, config: str | None = None):
    """Loads a Note-RNN from a project checkpoint, or converts a Magenta checkpoint on the fly.

    Everything is checked before the model is built (see :func:`rl_tuner.plumbing.checkpoint.read`
    and :func:`note_rnn.magenta.read_magenta_weights`).

    Args:
      path: a project checkpoint directory, a ``note-rnn train`` run directory (its
        ``model/``), or anything ``note_rnn.magenta`` reads (a TF1 checkpoint prefix or
        directory, or a ``.mag`` bundle).
      name: Keras name of the model.
      num_classes: the vocabulary size the caller needs (38 for melodies); None accepts any.
      config: melody_rnn configuration of a Magenta checkpoint that is not a bundle
        (:func:`note_rnn.magenta.read_magenta`); for a bundle or a project checkpoint it
        must be the one it records (None: any).

    Returns:
      A :class:`rl_tuner.models.sequence_model.SequenceRNN` whose ``input_encoder`` is the melody
      encoder of its configuration (:mod:`note_rnn.melody_configs`; None for a non-melody model).

    Raises:
      FileNotFoundError: if nothing loadable is at ``path``.
      ValueError: for a broken checkpoint (naming the file and the fault), one whose
        vocabulary size is not ``num_classes``, or one of another configuration than ``config``.
    """
    from rl_tuner.plumbing import checkpoint
    from note_rnn import melody_configs
    needs = MELODY_ENCODING if num_classes == tokens.NUM_CLASSES else None
    if checkpoint.has_checkpoint_files(checkpoint.model_path(path)):
        model = checkpoint.load_model(path, name, num_classes, needs=needs, make_encoder=melody_configs.encoder_for)
        found = getattr(getattr(model.input_encoder, "config", None), "name", None)
        if config is not None and config != found:  # as a bundle's contradicting --config is refused
            raise ValueError(f"{checkpoint.model_path(path)}: this checkpoint is a converted "
                             f"{found or 'non-melody'} model, but config={config!r} was given")
        return model
    from rl_tuner.plumbing import file_checks  # pylint: disable=import-outside-toplevel
    file_checks.check_path(path, "any")  # a FIFO, a link loop, a dangling link: said what it is
    if not os.path.exists(path) and not _looks_like_tf_prefix(path):
        raise FileNotFoundError(f"no Note-RNN checkpoint at {path}")
    from note_rnn import magenta
    net = magenta.read_magenta(path, config=config)  # checked against its configuration
    model = magenta.build_model(net, name=name)
    checkpoint.check_num_classes(model.config.num_classes, num_classes, path, needs)
    return model


def load_melody_model(path: str, name: str = "note_rnn", config: str | None = None):
    """Loads a model of any melody_rnn configuration (:func:`load`) and checks that it is one.

    Returns:
      The model; its ``input_encoder`` is a :class:`note_rnn.melody_configs.MelodyEncoder`.

    Raises:
      FileNotFoundError, ValueError: as :func:`load`; ValueError naming ``path`` also for a
        model without a melody encoder (e.g. a SMILES-RNN, or 40 classes of no melody_rnn
        configuration).
    """
    from note_rnn import melody_configs
    model = load(path, name=name, config=config)
    if not isinstance(model.input_encoder, melody_configs.MelodyEncoder):
        raise ValueError(f"{path}: the model has {model.config.num_classes} classes and no melody encoder; a melody "
                         f"model is needed (the {tokens.NUM_CLASSES}-token encoding or a Magenta melody_rnn "
                         "configuration)")
    return model


def _looks_like_tf_prefix(path: str) -> bool:
    return os.path.exists(path + ".index") or os.path.exists(path + ".meta")
