"""Note-RNN: an LSTM language model of monophonic melodies (38-token encoding).

``note_rnn.load(path)`` returns a trained model (see :mod:`note_rnn.model`). Importing this
package selects the Keras 2 API (``TF_USE_LEGACY_KERAS=1``) before TensorFlow loads.
"""

from note_rnn._tf_setup import use_legacy_keras

use_legacy_keras()


def load(path, num_classes=None):
    """Loads a Note-RNN checkpoint directory (or a Magenta checkpoint, converted on the fly).

    Args:
      path: a checkpoint directory written by this project (``config.json`` and
        ``weights.npz``), or a Magenta checkpoint / ``.mag`` bundle.
      num_classes: the vocabulary size the caller needs (38 for melodies); None accepts any.

    Returns:
      A :class:`note_rnn.model.NoteRNN` with ``sequence_logits`` and ``step``.

    Raises:
      FileNotFoundError: if there is no checkpoint at ``path``.
      ValueError: for a broken checkpoint (a one-line message naming the file and the
        fault) or a vocabulary size other than ``num_classes``.
    """
    from note_rnn import checkpoint
    return checkpoint.load_model(path, num_classes=num_classes)
