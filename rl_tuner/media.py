"""Things a person looks at: MIDI/WAV samples, TensorBoard audio and images, PNG plots."""

from __future__ import annotations

import io

import numpy as np

from rl_tuner import _tf  # noqa: F401
import tensorflow as tf  # noqa: E402

from note_rnn.audio import SAMPLE_RATE, synthesize, write_wav  # noqa: E402,F401  (re-exported)


def write_samples(policy, out_dir: str, num: int, length: int, seed: int, writer=None, step: int = 0) -> np.ndarray:
    """Samples ``num`` melodies, writes MIDI+WAV, and logs audio and a probability image."""
    from rl_tuner import evaluate
    if num <= 0:
        return np.zeros((0, length), np.int32)
    from note_rnn.generate import write_outputs
    melodies = evaluate.sample(policy, num, length, seed=seed)["tokens"]
    write_outputs(melodies, out_dir)
    if writer is not None:
        audio = [synthesize(m) for m in melodies]
        width = max(len(a) for a in audio)
        batch = np.stack([np.pad(a, (0, width - len(a))) for a in audio])[:, :, None]
        tokens, probs = evaluate.next_note_probabilities(policy, length, seed=seed)
        with writer.as_default():
            tf.summary.audio("samples/audio", batch, SAMPLE_RATE, step=step, max_outputs=num)
            tf.summary.image("samples/next_note_probabilities", probability_image(probs)[None], step=step)
            tf.summary.text("samples/tokens", "\n\n".join(" ".join(map(str, m)) for m in melodies), step=step)
    return melodies


def probability_image(probs: np.ndarray) -> np.ndarray:
    """[C, T] probabilities -> float32 RGB image [C*8, T*8, 3] (white = 0, red = 1), pitch up."""
    p = np.clip(probs[::-1], 0, 1)
    img = np.stack([np.ones_like(p), 1 - p, 1 - p], axis=-1).astype(np.float32)
    return np.kron(img, np.ones((8, 8, 1), np.float32))


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_training_curves(history: dict, path: str) -> None:
    """Mean log p and r_MT of sampled melodies at each evaluation (the paper's Figure 2)."""
    evals = history.get("evaluations", [])
    if not evals:
        return
    plt = _pyplot()
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
    _save_figure(fig, path)
    plt.close(fig)


def plot_next_note_probabilities(policy, path: str, length: int = 32, seed: int = 0) -> None:
    """The policy's next-note distribution along one sampled melody (the paper's Figure 4)."""
    from rl_tuner import evaluate
    plt = _pyplot()
    tokens, probs = evaluate.next_note_probabilities(policy, length, seed=seed)
    fig, ax = plt.subplots(figsize=(8, 6))
    ax.imshow(probs, origin="lower", aspect="auto", cmap="Reds", interpolation="nearest")
    ax.set_xlabel("step")
    ax.set_ylabel("token (0 hold, 1 note-off, 2.. MIDI 48..)")
    ax.set_title(f"next-note probabilities ({policy.algorithm})")
    fig.tight_layout()
    _save_figure(fig, path)
    plt.close(fig)


def _save_figure(fig, path: str) -> None:
    from note_rnn import atomic
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    atomic.write_bytes(path, buf.getvalue())
