"""Selects the Keras 2 API (tf-keras) before TensorFlow is first imported.

tf-agents 0.19 only works with the legacy Keras 2 API; TensorFlow 2.21 uses Keras 3 unless
``TF_USE_LEGACY_KERAS=1`` is set before ``import tensorflow``.
"""

import os
import sys
import warnings


def use_legacy_keras() -> None:
    """Sets ``TF_USE_LEGACY_KERAS=1`` and fails clearly if it is too late to do so."""
    if "tensorflow" in sys.modules and os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        raise RuntimeError(
            "TensorFlow was imported before this package without TF_USE_LEGACY_KERAS=1; "
            "import note_rnn / rl_tuner first or set TF_USE_LEGACY_KERAS=1 in the environment.")
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Third-party noise on every run: autograph recompiles tf_agents.utils.common, whose
    # `state is not ()` raises a SyntaxWarning; note-seq's pydub looks for ffmpeg, which
    # this project never uses (audio is synthesised without it).
    warnings.filterwarnings("ignore", category=SyntaxWarning, message='"is not" with a literal')
    warnings.filterwarnings("ignore", category=RuntimeWarning, message="Couldn't find ffmpeg")
