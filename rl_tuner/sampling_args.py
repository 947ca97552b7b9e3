"""Checks of sampling arguments, shared by the samplers and the ``generate`` commands (no
TensorFlow here, so that a command refuses bad flags before loading anything)."""

from __future__ import annotations

from rl_tuner.plumbing.ranges import between

# At most this many tokens are sampled by one call (2^28 int32 tokens = 1 GiB, before the
# per-token records of an evaluation): 100,000 sequences of 2,684 steps; the paper's Table 1
# (100,000 melodies of 32 notes) is 1.2% of it. A larger request would run for days or exhaust
# memory before writing anything, so it is refused up front.
MAX_TOKENS = 2**28
# The one rule for a sampling temperature, everywhere: the --temperature flags, the samplers'
# Python API and the exported SavedModel's generate() (which states it with these words).
# Sampling divides float32 logits by the temperature, so "> 0 and finite" in float64 is not
# enough: 1e-46 is 0 in float32 and 1e-40 subnormal (logits / T overflow to inf or NaN, and
# TensorFlow's categorical sampler draws an index out of range), 1e39 is inf in float32. The
# range keeps logits / T and the never-sampled tokens' mask (rl_tuner.models.sampling.MASK_GAP = 1e4
# times the largest logit) finite in float32 for logits up to 1e28, and spans every useful
# distribution: at 1e-6 a logit gap of 1e-5 already weighs e^-10 (greedy), at 1e9 a logit of
# size 10 moves exp(logit / T) by 1e-8, below float32's resolution (uniform). BUILD.md,
# "Robustness and usability".
TEMPERATURE_MIN, TEMPERATURE_MAX = 1e-6, 1e9
TEMPERATURE = between(TEMPERATURE_MIN, TEMPERATURE_MAX)  # NaN and infinity are refused as by every Range


def check_token_count(num: int, length: int, what: str = "sequences") -> None:
    """Refuses ``num`` sequences of ``length`` tokens when they exceed :data:`MAX_TOKENS`.

    Args:
      num: number of sequences.
      length: tokens per sequence.
      what: the sequences, as the message names them (e.g. "sequences", "samples (--eval-samples)").

    Raises:
      ValueError: naming both numbers and the limit.
    """
    if num * length > MAX_TOKENS:
        raise ValueError(f"{num} {what} of {length} steps are {num * length:,} tokens, more than one run samples "
                         f"(at most {MAX_TOKENS:,} = 2^28); use fewer or shorter ones")


def check_sampling_args(num: int, length: int, temperature: float, primer=None) -> None:
    """Raises ValueError for arguments that cannot produce sequences.

    Args:
      num: number of sequences (>= 1).
      length: tokens per sequence (>= 1), a primer included.
      temperature: softmax temperature (:data:`TEMPERATURE`: in [1e-06, 1000000000]).
      primer: optional primer tokens: at least one and fewer than ``length`` (Magenta's
        melody_rnn_generate refuses a primer that is not shorter than ``--num_steps``:
        something must be generated).

    Raises:
      ValueError: naming the argument and the value; also for more than
        :data:`MAX_TOKENS` tokens in all.
    """
    if num < 1:
        raise ValueError(f"number of sequences must be >= 1, got {num}")
    if length < 1:
        raise ValueError(f"sequence length must be >= 1, got {length}")
    TEMPERATURE.check(temperature, "temperature")
    check_token_count(num, length)
    if primer is not None:
        if len(primer) == 0:
            raise ValueError("the primer is empty")
        if len(primer) >= length:
            raise ValueError(f"the primer ({len(primer)} steps) must be shorter than the sequence length "
                             f"({length}); the length counts the primer, as Magenta's --num_steps does")
