"""Audio synthesis, WAV files and plots of rl_tuner.media."""

import wave

import numpy as np

import rl_tuner  # noqa: F401  (selects Keras 2 before TensorFlow)
from rl_tuner import media


def test_synthesize_melody_is_normalised_and_has_the_melody_length():
    # 32 tokens at 80 qpm: 32 sixteenths x 0.1875 s = 6 s (pretty_midi adds a short release).
    tokens = [14, 0, 0, 0, 16, 0, 18, 1] * 4
    audio = media.synthesize(tokens, qpm=80.0, sample_rate=8000)
    assert np.all(np.isfinite(audio))
    np.testing.assert_allclose(np.max(np.abs(audio)), 0.8, rtol=1e-6)
    assert 5.5 * 8000 <= len(audio) <= 7.5 * 8000


def test_synthesize_melody_without_notes_is_silence_of_the_right_length():
    # Only holds and note-offs: no note, so silence of 32 x 0.1875 s = 6 s, and no NaN.
    audio = media.synthesize([0] * 16 + [1] * 16, qpm=80.0, sample_rate=8000)
    assert len(audio) == 6 * 8000
    assert not np.any(audio)


def test_write_wav_round_trip(tmp_path):
    audio = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 2.0], np.float32)  # 2.0 is clipped to 1.0
    path = tmp_path / "a.wav"
    media.write_wav(str(path), audio, sample_rate=8000)
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, 8000, 6)
        frames = np.frombuffer(w.readframes(6), "<i2")
    np.testing.assert_array_equal(frames, [0, 16383, -16383, 32767, -32767, 32767])


def test_probability_image_puts_high_tokens_on_top_and_red_for_probability_one():
    probs = np.zeros((38, 2))
    probs[37, 0] = 1.0  # the highest token at step 0
    img = media.probability_image(probs)
    assert img.shape == (38 * 8, 2 * 8, 3)
    np.testing.assert_array_equal(img[0, 0], [1.0, 0.0, 0.0])   # top-left: token 37, p = 1 -> red
    np.testing.assert_array_equal(img[-1, -1], [1.0, 1.0, 1.0])  # bottom-right: p = 0 -> white


def test_plot_training_curves_writes_a_png(tmp_path):
    history = {"evaluations": [{"step": 0, "mean_log_prior": -1.3, "mean_music_theory_reward": -8.0},
                               {"step": 100, "mean_log_prior": -2.0, "mean_music_theory_reward": 2.0}]}
    path = tmp_path / "curves.png"
    media.plot_training_curves(history, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    media.plot_training_curves({"evaluations": []}, str(tmp_path / "none.png"))
    assert not (tmp_path / "none.png").exists()
