"""Checks of sampling arguments, shared by the samplers and the ``generate`` commands (no
TensorFlow here, so that a command refuses bad flags before loading anything)."""

from __future__ import annotations

import math


def check_sampling_args(num: int, length: int, temperature: float, primer=None) -> None:
    """Raises ValueError for arguments that cannot produce melodies.

    Args:
      num: number of melodies (>= 1).
      length: tokens per melody (>= 1), a primer included.
      temperature: softmax temperature (> 0 and finite).
      primer: optional primer tokens: at least one and fewer than ``length`` (Magenta's
        melody_rnn_generate refuses a primer that is not shorter than ``--num_steps``:
        something must be generated).

    Raises:
      ValueError: naming the argument and the value.
    """
    if num < 1:
        raise ValueError(f"number of melodies must be >= 1, got {num}")
    if length < 1:
        raise ValueError(f"melody length must be >= 1, got {length}")
    if not temperature > 0 or not math.isfinite(temperature):
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if primer is not None:
        if len(primer) == 0:
            raise ValueError("the primer is empty")
        if len(primer) >= length:
            raise ValueError(f"the primer ({len(primer)} steps) must be shorter than the melody length "
                             f"({length}); the length counts the primer, as Magenta's --num_steps does")
