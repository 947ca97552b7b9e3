"""Note-RNN: an LSTM language model of monophonic melodies (38-token encoding).

``note_rnn.load(path)`` returns a trained model (see :mod:`note_rnn.model`). Importing this
package selects the Keras 2 API (``TF_USE_LEGACY_KERAS=1``) before TensorFlow loads.
"""

from note_rnn._tf_setup import configure

configure()  # Keras 2 API and quiet logs; TensorFlow itself is imported only when needed


def load(path):
    """Loads a Note-RNN checkpoint directory (or a Magenta checkpoint, converted on the fly).

    Args:
      path: a checkpoint directory written by this project (``config.json`` and
        ``weights.npz``), or a Magenta checkpoint / ``.mag`` bundle.

    Returns:
      A :class:`note_rnn.model.NoteRNN` with ``sequence_logits`` and ``step``.
    """
    from note_rnn import checkpoint
    return checkpoint.load_model(path)
