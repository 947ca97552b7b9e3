"""Audio synthesis, WAV files and plots of note_rnn.media."""

import glob
import wave

import numpy as np
import pytest

import rl_tuner  # noqa: F401  (selects Keras 2 before TensorFlow)
from rl_tuner.models import sequence_model as model_lib  # noqa: E402
from note_rnn import tokens  # noqa: E402
from note_rnn import media  # noqa: E402
from rl_tuner.runner import policy as policy_lib  # noqa: E402
import matplotlib  # noqa: E402
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import tensorflow as tf  # noqa: E402


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


NOTE_NAMES = ["hold", "off"] + [f"{n}{octave}" for octave in (3, 4, 5)
                                  for n in ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")]


def test_token_names_follow_the_encoding():
    assert [tokens.token_name(t) for t in range(38)] == NOTE_NAMES
    assert tokens.token_name(tokens.pitch_to_token(60)) == "C4" == tokens.pitch_name(60)  # middle C
    assert (tokens.token_name(0), tokens.token_name(1), tokens.token_name(2)) == ("hold", "off", "C3")
    with pytest.raises(ValueError, match="token 38 is not a pitch token"):
        tokens.token_name(38)


def test_next_note_figure_has_note_names_and_a_colour_bar():
    probs = np.zeros((38, 4))
    probs[14, 0] = probs[0, 1] = probs[1, 2] = probs[37, 3] = 1.0
    fig = media.next_note_figure(np.array([14, 0, 1, 37]), probs, "psi")
    try:
        ax, colorbar = fig.axes  # the plot and its colour bar
        assert [label.get_text() for label in ax.get_yticklabels()] == NOTE_NAMES
        assert list(ax.get_yticks()) == list(range(38))
        assert colorbar.get_ylabel() == "probability"
        image = ax.get_images()[0]
        assert image.get_clim() == (0.0, 1.0)
        np.testing.assert_array_equal(image.get_array(), probs)  # rows = tokens, columns = steps
        assert image.origin == "lower"  # token 0 (hold) at the bottom
        marks = ax.get_lines()[0]
        assert list(marks.get_xdata()) == [0, 1, 2, 3] and list(marks.get_ydata()) == [14, 0, 1, 37]
        assert "psi" in ax.get_title()
        rgb = media.figure_rgb(fig)
        assert rgb.dtype == np.uint8 and rgb.shape == (750, 900, 3)  # 9 x 7.5 inches at 100 dpi
    finally:
        plt.close(fig)


def test_samples_log_the_labelled_figure_to_tensorboard(tmp_path):
    model = model_lib.build(model_lib.SequenceRNNConfig(num_classes=38, layer_sizes=(8,)), seed=0)
    writer = tf.summary.create_file_writer(str(tmp_path / "logs"))
    media.write_samples(policy_lib.Policy(model), str(tmp_path / "samples"), 1, 8, seed=0, writer=writer, step=3)
    writer.flush()
    images = []
    for path in glob.glob(str(tmp_path / "logs" / "events.out.tfevents*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag == "samples/next_note_probabilities":
                    images.append((event.step, tf.make_ndarray(value.tensor)))
    assert len(images) == 1 and images[0][0] == 3
    # An image summary holds width, height and the PNG: the rendered figure, not a raw pixel grid.
    width, height, png = images[0][1]
    assert (int(width), int(height)) == (900, 750) and png[:8] == b"\x89PNG\r\n\x1a\n"
    fig_png = tmp_path / "fig4.png"
    media.plot_next_note_probabilities(policy_lib.Policy(model), str(fig_png), 8, seed=0)
    assert fig_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_training_curves_writes_a_png(tmp_path):
    history = {"evaluations": [{"step": 0, "mean_log_prior": -1.3, "mean_music_theory_reward": -8.0},
                               {"step": 100, "mean_log_prior": -2.0, "mean_music_theory_reward": 2.0}]}
    path = tmp_path / "curves.png"
    media.plot_training_curves(history, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    media.plot_training_curves({"evaluations": []}, str(tmp_path / "none.png"))
    assert not (tmp_path / "none.png").exists()
