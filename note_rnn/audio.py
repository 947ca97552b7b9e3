"""Sine-wave audio of melodies (WAV files next to the MIDI files); no TensorFlow here."""

from __future__ import annotations

import io
import wave

import numpy as np

SAMPLE_RATE = 16000


def synthesize(tokens, qpm: float = 80.0, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Renders a melody as sine-wave audio.

    Args:
      tokens: token indices 0..37 (one 16th note each).
      qpm: tempo in quarter notes per minute (a token lasts 15 / qpm seconds).
      sample_rate: samples per second.

    Returns:
      float32 [samples] in [-1, 1] (peak 0.8); silence for a melody without notes.

    Raises:
      ValueError: for an invalid token or a non-positive qpm.
    """
    from note_rnn import encoding
    return synthesize_sequence(encoding.tokens_to_note_sequence(tokens, qpm=qpm), len(tokens), qpm, sample_rate)


def synthesize_sequence(sequence, num_steps: int, qpm: float = 80.0, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Renders a melody's NoteSequence of ``num_steps`` 16th notes as sine-wave audio (see :func:`synthesize`)."""
    import note_seq
    if not sequence.notes:  # only holds and rests: silence (pretty_midi would divide by a zero peak)
        return np.zeros(int(round(num_steps * 15.0 / qpm * sample_rate)), np.float32)
    audio = note_seq.midi_synth.synthesize(sequence, sample_rate=sample_rate)
    peak = np.max(np.abs(audio)) if len(audio) else 0.0
    return (audio / peak * 0.8 if peak > 0 else audio).astype(np.float32)


def wav_bytes(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Encodes audio as a mono 16-bit PCM WAV file's bytes.

    Args:
      audio: float samples in [-1, 1] (clipped).
      sample_rate: samples per second.
    """
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def write_wav(path: str, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Writes mono 16-bit PCM WAV (atomically; the bytes of :func:`wav_bytes`).

    Args:
      path: output file.
      audio: float samples in [-1, 1] (clipped).
      sample_rate: samples per second.
    """
    from rl_tuner.plumbing import atomic
    atomic.write_bytes(path, wav_bytes(audio, sample_rate))
