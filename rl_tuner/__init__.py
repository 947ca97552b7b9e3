"""RL Tuner / Sequence Tutor: KL-control RL fine-tuning of sequence models.

Importing this package selects the Keras 2 API (``TF_USE_LEGACY_KERAS=1``).
"""

from note_rnn._tf_setup import configure

configure()  # Keras 2 API and quiet logs; TensorFlow itself is imported only when needed
