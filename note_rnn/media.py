"""Things a person looks at: MIDI/WAV samples, TensorBoard audio and images, PNG plots."""

from __future__ import annotations

import numpy as np

from rl_tuner import _tf  # noqa: F401
import tensorflow as tf  # noqa: E402

from note_rnn.audio import SAMPLE_RATE, synthesize, write_wav  # noqa: E402,F401  (re-exported)
from note_rnn.figures import pyplot, save_png  # noqa: E402


def write_samples(policy, out_dir: str, num: int, length: int, seed: int, writer=None, step: int = 0) -> np.ndarray:
    """Samples ``num`` melodies, writes MIDI+WAV, and logs audio and a probability image."""
    from rl_tuner.runner import evaluate
    if num <= 0:
        return np.zeros((0, length), np.int32)
    melodies = evaluate.sample_policy(policy, num, length, seed=seed)["tokens"]
    write_melodies(melodies, out_dir, policy, seed, writer, step)
    return melodies


def write_melodies(melodies, out_dir: str, policy=None, seed: int = 0, writer=None, step: int = 0) -> None:
    """Writes sampled melodies as MIDI+WAV (+ tokens JSON) and, with a TensorBoard ``writer``,
    logs their audio, tokens and the policy's next-note probabilities (Figure 4).

    Args:
      melodies: int [N, T] tokens.
      out_dir: the samples folder.
      policy: the policy they were sampled from (for the Figure-4 image; needs ``writer``).
      seed: seed of the Figure-4 melody.
      writer: a ``tf.summary`` writer, or None.
      step: the TensorBoard step.
    """
    from rl_tuner.runner import evaluate
    from note_rnn.generate import write_outputs
    if len(melodies) == 0:
        return
    write_outputs(melodies, out_dir)
    if writer is not None:
        length = np.shape(melodies)[1]
        audio = [synthesize(m) for m in melodies]
        width = max(len(a) for a in audio)
        batch = np.stack([np.pad(a, (0, width - len(a))) for a in audio])[:, :, None]
        with writer.as_default():
            tf.summary.audio("samples/audio", batch, SAMPLE_RATE, step=step, max_outputs=len(melodies))
            tf.summary.text("samples/tokens", "\n\n".join(" ".join(map(str, m)) for m in melodies), step=step)
        if policy is not None:
            tokens, probs = evaluate.next_note_probabilities(policy, length, seed=seed)
            plt = pyplot()
            fig = next_note_figure(tokens, probs, policy.algorithm, _class_names(policy))
            image = figure_rgb(fig)
            plt.close(fig)
            with writer.as_default():
                tf.summary.image("samples/next_note_probabilities", image[None], step=step)


def _class_names(policy):
    """The class names of a policy's prior other than the 38 tokens, else None."""
    encoder = getattr(policy.prior_rnn, "input_encoder", None)
    if encoder is None or getattr(encoder, "config", None) is None or encoder.config.name == "basic_rnn":
        return None
    return encoder.class_names()


def plot_training_curves(history: dict, path: str) -> None:
    """Mean log p and r_MT of sampled melodies at each evaluation (the paper's Figure 2)."""
    evals = history.get("evaluations", [])
    if not evals:
        return
    plt = pyplot()
    steps = [e["step"] for e in evals]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    axes[0].plot(steps, [e["mean_log_prior"] for e in evals], marker="o")
    axes[0].set_title("mean log p(a|s) under the Note-RNN")
    axes[1].plot(steps, [e["mean_music_theory_reward"] for e in evals], marker="o", color="tab:red")
    axes[1].set_title("mean music-theory reward r_MT per note")
    for ax in axes:
        ax.set_xlabel("environment steps")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    save_png(fig, path)
    plt.close(fig)


def next_note_figure(tokens: np.ndarray, probs: np.ndarray, algorithm: str, class_names=None):
    """The paper's Figure 4: a policy's next-note distribution along one sampled melody.

    Args:
      tokens: int [T], the sampled melody (marked with circles).
      probs: float [C, T], column t = the distribution token t was drawn from.
      algorithm: the policy's name, for the title.
      class_names: the name of each class (None: the 38 tokens' names); another melody_rnn
        configuration's come from :meth:`note_rnn.melody_configs.MelodyEncoder.class_names`.

    Returns:
      A matplotlib Figure: rows are tokens labelled by note name ('hold', 'off', C3 ..
      B5; token indices in note_rnn.tokens), columns are 16th-note steps, colour is the
      probability with a colour bar from 0 to 1.
    """
    from note_rnn import tokens as tok
    plt = pyplot()
    num_classes, length = probs.shape
    fig, ax = plt.subplots(figsize=(9, 7.5))
    image = ax.imshow(probs, origin="lower", aspect="auto", cmap="Reds", vmin=0.0, vmax=1.0,
                      interpolation="nearest")
    ax.plot(np.arange(len(tokens)), tokens, "o", markerfacecolor="none", markeredgecolor="tab:blue",
            markersize=5, label="sampled note")
    ax.set_yticks(np.arange(num_classes))
    names = class_names or [tok.token_name(t) for t in range(num_classes)]
    ax.set_yticklabels(names, fontsize=7 if num_classes <= 40 else 4)
    for t, name in enumerate(names):  # a line below each C
        if name.startswith("C") and not name.startswith("C#"):
            ax.axhline(t - 0.5, color="0.6", linewidth=0.6)
    ax.set_xticks(np.arange(0, length, 4))
    ax.set_xticklabels([str(t + 1) for t in range(0, length, 4)])
    ax.set_xlabel("note of the melody (16th-note step)")
    ax.set_ylabel("next token")
    ax.set_title(f"next-note probabilities along a sampled melody ({algorithm})")
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    fig.colorbar(image, ax=ax, label="probability", fraction=0.04, pad=0.02)
    fig.tight_layout()
    return fig


def figure_rgb(fig) -> np.ndarray:
    """Renders a matplotlib figure to uint8 RGB [height, width, 3] (for TensorBoard)."""
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def plot_next_note_probabilities(policy, path: str, length: int = 32, seed: int = 0) -> None:
    """Writes the paper's Figure 4 for ``policy`` as a PNG (see :func:`next_note_figure`)."""
    from rl_tuner.runner import evaluate
    plt = pyplot()
    tokens, probs = evaluate.next_note_probabilities(policy, length, seed=seed)
    fig = next_note_figure(tokens, probs, policy.algorithm, _class_names(policy))
    save_png(fig, path)
    plt.close(fig)
