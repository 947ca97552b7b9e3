"""Melody files of ``note-rnn generate`` (sampling itself is the core's :mod:`rl_tuner.models.sampling`).

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

from rl_tuner.models.sampling import sample_model


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
EVENTS_FILE = "events.json"


class EventMelodies(list):
    """Melodies as lists of Magenta melody events (MIDI pitch 0..127, -2 hold, -1 note off), for
    models whose melodies do not fit the 38 tokens (mono_rnn); :func:`write_outputs` writes
    their MIDI and WAV files and an ``events.json`` instead of ``melodies.json``."""


def sample_melodies(model, num: int, length: int = 32, temperature: float = 1.0, seed: int = 0, primer=None):
    """Samples melodies from a melody model of any melody_rnn configuration.

    The model's classes are sampled (:func:`rl_tuner.models.sampling.sample_model`) and decoded to events
    in order (lookback and key-melody repeat classes become the event of 1 or 2 bars ago).

    Args:
      model: a model loaded by :func:`note_rnn.load` (its ``input_encoder`` is a
        :class:`note_rnn.melody_configs.MelodyEncoder`).
      num, length, temperature, seed: see :func:`rl_tuner.models.sampling.sample_model`.
      primer: optional 38-token melody every melody starts with (encoded into the model's classes).

    Returns:
      int8 token arrays [length] per melody when every event fits the 38 tokens (basic,
      lookback and attention models always do), else an :class:`EventMelodies` (mono_rnn).

    Raises:
      ValueError: for a model without a melody encoder, or bad sampling arguments.
    """
    from note_rnn import encoding, melody_configs
    encoder = model.input_encoder
    if not isinstance(encoder, melody_configs.MelodyEncoder):
        raise ValueError(f"model {model.name} is not a melody model ({model.config.num_classes} classes, no melody "
                         "encoder)")
    labels = None if primer is None else encoder.labels(encoding.tokens_to_events(primer))
    classes = sample_model(model, num, length, temperature, seed, primer=labels)
    melodies = [encoder.decode(row) for row in classes]
    try:
        return np.stack([encoding.melody_to_tokens(m) for m in melodies])
    except ValueError:  # a pitch outside 48..83
        return EventMelodies(melodies)


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
    from rl_tuner.plumbing import atomic
    from note_rnn import audio as audio_lib
    if isinstance(melodies, EventMelodies):
        return _write_event_outputs(melodies, out_dir, qpm, audio, prefix, tokens_file)
    melodies = [np.asarray(m) for m in melodies]
    paths = write_midi_files(melodies, out_dir, prefix=prefix, qpm=qpm)
    if audio:
        for mel, path in zip(melodies, paths):
            audio_lib.write_wav(path[:-4] + ".wav", audio_lib.synthesize(mel, qpm))
    if tokens_file is not None:
        atomic.write_json(os.path.join(out_dir, tokens_file), [m.tolist() for m in melodies])
    return paths


def _write_event_outputs(melodies, out_dir, qpm, audio, prefix, tokens_file) -> list[str]:
    """:func:`write_outputs` for :class:`EventMelodies` (``events.json`` instead of ``melodies.json``)."""
    import note_seq
    from rl_tuner.plumbing import atomic
    from note_rnn import audio as audio_lib
    from note_rnn import encoding
    os.makedirs(out_dir, exist_ok=True)
    width = max(3, len(str(len(melodies))))
    paths = []
    for i, events in enumerate(melodies):
        path = os.path.join(out_dir, f"{prefix}_{i:0{width}d}.mid")
        sequence = encoding.events_to_note_sequence(events, qpm)
        note_seq.sequence_proto_to_midi_file(sequence, path)
        if audio:
            audio_lib.write_wav(path[:-4] + ".wav", audio_lib.synthesize_sequence(sequence, len(events), qpm))
        paths.append(path)
    if tokens_file is not None:
        atomic.write_json(os.path.join(out_dir, EVENTS_FILE), [list(map(int, m)) for m in melodies])
    return paths
