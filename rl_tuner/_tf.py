"""Imports TensorFlow with the Keras 2 API selected (import this before tensorflow)."""

from rl_tuner._tf_setup import use_legacy_keras

use_legacy_keras()
import tensorflow as tf  # noqa: E402,F401
