"""Note-RNN: an LSTM language model of monophonic melodies (38-token encoding).

The Python API (each function imports TensorFlow only when called)::

    model = note_rnn.load(note_rnn.default_checkpoint())    # or any checkpoint / run / Magenta file
    melodies = rl_tuner.sample(model, num=100, length=32)     # int32 [100, 32] tokens
    metrics = note_rnn.evaluate(model, melodies)             # accuracy, log perplexity
    total, components = note_rnn.score_melodies(melodies)    # r_MT of every note
    stats = note_rnn.composition_stats(melodies)              # the paper's Table-1 statistics
    melodies = note_rnn.read_melodies("tune.mid")            # token arrays from MIDI / JSON

Tokens: 0 = hold, 1 = note-off, i >= 2 = MIDI pitch i + 46 (48..83); one token is a 16th
note. Importing this package selects the Keras 2 API (``TF_USE_LEGACY_KERAS=1``) before
TensorFlow loads.
"""

from rl_tuner._tf_setup import configure

configure()  # Keras 2 API and quiet logs; TensorFlow itself is imported only when needed


def load(path, num_classes=None, config=None):
    """Loads a Note-RNN checkpoint directory (or a Magenta checkpoint, converted on the fly).

    Args:
      path: a checkpoint directory written by this project (``config.json`` and
        ``weights.npz``), a ``note-rnn train`` run directory, or a Magenta checkpoint /
        ``.mag`` bundle.
      num_classes: the vocabulary size the caller needs (38 for melodies); None accepts any.
      config: the melody_rnn configuration (basic_rnn, lookback_rnn, attention_rnn, mono_rnn)
        of a Magenta checkpoint that is not a ``.mag`` bundle (a bundle names its own);
        None = basic_rnn.

    Returns:
      A :class:`rl_tuner.models.sequence_model.SequenceRNN` with ``sequence_logits``, ``step`` and
      ``event_distributions(events)`` (float32 [T, C]: the softmax after each prefix of one
      melody of Magenta events -- MIDI pitch, -2 hold, -1 note off -- from the zero state,
      in the model's own C classes).

    Raises:
      FileNotFoundError: if there is no checkpoint at ``path``.
      ValueError: for a broken checkpoint (a one-line message naming the file and the
        fault) or a vocabulary size other than ``num_classes``.
    """
    from note_rnn import prior
    return prior.load(path, num_classes=num_classes, config=config)


def default_checkpoint() -> str:
    """The directory of the shipped Note-RNN: the installed ``note_rnn/_checkpoints/note_rnn``
    or the checkout's ``checkpoints/note_rnn`` (:func:`rl_tuner.resources.shipped_checkpoint`)."""
    from rl_tuner.resources import shipped_checkpoint
    return shipped_checkpoint("note_rnn", "note_rnn")


def evaluate(model, melodies, max_length: int = 128, skip_first_n_losses: int = 8, min_window: int = 16) -> dict:
    """Next-token accuracy and log perplexity (nats/token) of ``model`` on ``melodies``,
    computed as ``note-rnn train`` computes its validation metrics
    (:func:`note_rnn.train.evaluate_model`).

    Args:
      model: a loaded Note-RNN.
      melodies: 1-D token arrays (or an int [B, N] array).
      max_length, skip_first_n_losses, min_window: the windowing of training.

    Returns:
      ``{"accuracy", "log_perplexity", "tokens", "windows"}``.

    Raises:
      ValueError: if no window of at least ``min_window`` tokens remains.
    """
    from note_rnn import train
    return train.evaluate_model(model, list(melodies), max_length, skip_first_n_losses, min_window)


def read_melodies(path: str, fmt: str = "auto"):
    """Reads melodies from a token JSON, a Magenta event-list JSON or a MIDI file
    (:func:`note_rnn.melody_io.read_melody_file`); returns a list of int32 token arrays."""
    from note_rnn import melody_io
    return melody_io.read_melody_file(path, fmt)


def score_melodies(melodies):
    """The music-theory reward r_MT (unscaled) of every note of complete melodies.

    Args:
      melodies: int [B, N] tokens, or a list of token sequences of any lengths.

    Returns:
      For an array: (total float64 [B, N], {component: float64 [B, N]}); for a list: a list
      of (total [N_i], {component: [N_i]}), each melody scored as if alone.

    Raises:
      ValueError: for invalid tokens or an empty melody.
    """
    import numpy as np
    from note_rnn import music_theory
    if isinstance(melodies, np.ndarray) and melodies.ndim == 2:
        return music_theory.score_melodies(melodies)
    return music_theory.score_melody_list(melodies)


def composition_stats(melodies) -> dict:
    """The paper's Table-1 statistics of melodies (:func:`note_rnn.stats.composition_stats`):
    ``{name: float}`` fractions of notes or melodies, autocorrelations, interval counters and
    ``num_melodies``. Melodies may differ in length (int [B, N] or a list of token lists).

    Raises:
      ValueError: if there is no melody, a melody is empty or a token is outside 0..37.
    """
    from note_rnn import stats
    return stats.composition_stats(melodies)
