"""RL Tuner / Sequence Tutor: KL-control RL fine-tuning of sequence models.

The Python API (TensorFlow is imported on first use)::

    total, components = rl_tuner.score_melodies(melodies)    # r_MT of every note
    stats = rl_tuner.composition_stats(melodies)              # the paper's Table-1 statistics
    config = rl_tuner.from_preset("default", algorithm="psi", note_rnn=note_rnn.default_checkpoint())
    result = rl_tuner.tune(config, "runs/psi")                # train; rerun to resume
    policy = rl_tuner.load_policy("runs/psi")                 # sample with rl_tuner.sample(policy, 10)

Importing this package selects the Keras 2 API (``TF_USE_LEGACY_KERAS=1``).
"""

from rl_tuner._tf_setup import configure

configure()  # Keras 2 API and quiet logs; TensorFlow itself is imported only when needed

_LAZY = {"RLConfig": ("rl_tuner.config", "RLConfig"), "from_preset": ("rl_tuner.config", "from_preset"),
         "load_policy": ("rl_tuner.policy", "load_policy"), "composition_stats": ("rl_tuner.stats", "composition_stats")}


def __getattr__(name):
    """``RLConfig``, ``from_preset``, ``load_policy`` and ``composition_stats``, imported on first use."""
    if name in _LAZY:
        import importlib
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'rl_tuner' has no attribute {name!r}")


def score_melodies(melodies):
    """The music-theory reward r_MT (unscaled) of every note of complete melodies.

    Args:
      melodies: int [B, N] tokens, or a list of token sequences of any lengths.

    Returns:
      For an array: (total float64 [B, N], {component: float64 [B, N]}); for a list: a list
      of (total [N_i], {component: [N_i]}), each melody scored as if alone.

    Raises:
      ValueError: for invalid tokens or an empty melody.
    """
    import numpy as np
    from rl_tuner import music_theory
    if isinstance(melodies, np.ndarray) and melodies.ndim == 2:
        return music_theory.score_melodies(melodies)
    return music_theory.score_melody_list(melodies)


def tune(config, out_dir: str, progress: bool = True) -> dict:
    """Tunes a Note-RNN with KL-control RL (:func:`rl_tuner.train.run`, what ``rl-tuner train``
    runs; named ``tune`` because ``rl_tuner.train`` is that module); rerun to resume.

    Args:
      config: an :class:`RLConfig` (e.g. from :func:`from_preset`); an empty ``note_rnn``
        means the shipped Note-RNN.
      out_dir: the run directory (checkpoints, TensorBoard events, stats.json, policy/).
      progress: show a progress bar.

    Returns:
      The final results: Table-1 statistics ``before`` and ``after`` tuning, and ``steps``.
    """
    import dataclasses
    from rl_tuner import train as train_lib
    if not config.note_rnn:
        import note_rnn
        config = dataclasses.replace(config, note_rnn=note_rnn.default_checkpoint())
    return train_lib.run(config, out_dir, progress=progress)


def sample(policy, num: int, length: int = 32, temperature: float = 1.0, seed: int = 0, primer=None):
    """Samples melodies from a policy (:func:`load_policy`); returns int32 [num, length] tokens."""
    from rl_tuner import evaluate
    return evaluate.sample(policy, num, length, temperature, seed, primer=primer)["tokens"]
