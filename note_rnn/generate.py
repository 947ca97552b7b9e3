"""Melody files of ``note-rnn generate`` (sampling itself is the core's :mod:`rl_tuner.sampling`).

Without a primer every melody starts, as in Magenta's RL Tuner, from the zero state and a
random priming token drawn uniformly from all 38 tokens; the priming token is not part of the
melody. With a primer (Magenta's ``--primer_melody`` / ``--primer_midi``) every melody starts
with the primer's tokens and the model continues from its state after them. Sampling is
stateless-seeded: the same seed and number of melodies give the same melodies.
:func:`write_outputs` is the one writer of generated files (MIDI, WAV, tokens JSON).
"""

from __future__ import annotations

import os

import numpy as np

from rl_tuner.sampling import (CHUNK_SIGNATURE, SAMPLER_SIGNATURE, check_sampling_args, sample,  # noqa: F401
                               sample_in_chunks, sample_loop)  # (re-exported: the core's sampler)


def write_midi_files(melodies: np.ndarray, out_dir: str, prefix: str = "melody", qpm: float = 80.0) -> list[str]:
    """Writes one MIDI file per melody (``{prefix}_{i:03d}.mid``); returns the paths."""
    from note_rnn import encoding
    os.makedirs(out_dir, exist_ok=True)
    width = max(3, len(str(len(melodies))))
    paths = []
    for i, mel in enumerate(melodies):
        path = os.path.join(out_dir, f"{prefix}_{i:0{width}d}.mid")
        encoding.write_midi(mel, path, qpm=qpm)
        paths.append(path)
    return paths


TOKENS_FILE = "melodies.json"


def write_outputs(melodies, out_dir: str, qpm: float = 80.0, audio: bool = True, prefix: str = "melody",
                  tokens_file: str | None = TOKENS_FILE) -> list[str]:
    """Writes generated melodies: the one writer of ``note-rnn generate``, ``rl-tuner generate``
    and the training samples.

    Files in ``out_dir``: ``{prefix}_{i:03d}.mid`` per melody, the same name with ``.wav``
    (sine-wave audio, 16 kHz mono, see :mod:`note_rnn.audio`) when ``audio`` is True, and
    ``tokens_file`` (a JSON list of the melodies' token lists) unless it is None.

    Args:
      melodies: int [N, T] tokens (or a list of token lists).
      out_dir: output directory (created if missing).
      qpm: tempo of the MIDI and WAV files in quarter notes per minute.
      audio: also write WAV files.
      prefix: file name prefix.
      tokens_file: name of the JSON file of tokens, or None for none.

    Returns:
      The MIDI paths, in melody order.

    Raises:
      ValueError: for an invalid token or a non-positive qpm.
      OSError: if a file cannot be written.
    """
    from rl_tuner import atomic
    from note_rnn import audio as audio_lib
    melodies = [np.asarray(m) for m in melodies]
    paths = write_midi_files(melodies, out_dir, prefix=prefix, qpm=qpm)
    if audio:
        for mel, path in zip(melodies, paths):
            audio_lib.write_wav(path[:-4] + ".wav", audio_lib.synthesize(mel, qpm))
    if tokens_file is not None:
        atomic.write_json(os.path.join(out_dir, tokens_file), [m.tolist() for m in melodies])
    return paths
