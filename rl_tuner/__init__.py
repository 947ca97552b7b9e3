"""RL Tuner / Sequence Tutor: KL-control RL fine-tuning of sequence models (the domain-free core).

The applications are tasks (:mod:`rl_tuner.tasks`); melodies are ``note_rnn``'s (its
``note_rnn.score_melodies`` and ``note_rnn.composition_stats`` score melodies).

The Python API (TensorFlow is imported on first use)::

    config = rl_tuner.from_preset("default", algorithm="psi")  # task="melody": tune the shipped Note-RNN
    # (another task: from_preset(..., task="my_task", prior="path/to/checkpoint"); see rl_tuner.tasks)
    result = rl_tuner.train(config, "runs/psi")               # rerun to resume
    policy = rl_tuner.load_policy("runs/psi")                 # sample with rl_tuner.sample(policy, 10)

Importing this package selects the Keras 2 API (``TF_USE_LEGACY_KERAS=1``).
"""

from rl_tuner._tf_setup import configure

configure()  # Keras 2 API and quiet logs; TensorFlow itself is imported only when needed

_LAZY = {"RLConfig": ("rl_tuner.runner.config", "RLConfig"), "from_preset": ("rl_tuner.runner.config", "from_preset"),
         "load_policy": ("rl_tuner.runner.policy", "load_policy"), "get_task": ("rl_tuner.tasks", "get_task")}


def __getattr__(name):
    """``RLConfig``, ``from_preset``, ``load_policy`` and ``get_task``, imported on first use."""
    if name in _LAZY:
        import importlib
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'rl_tuner' has no attribute {name!r}")


def train(config, out_dir: str, progress: bool = True) -> dict:
    """Tunes a task's prior with KL-control RL (:func:`rl_tuner.runner.train.run`, what
    ``rl-tuner train`` runs); rerun to resume.

    Args:
      config: an :class:`RLConfig` (e.g. from :func:`from_preset`); an empty ``prior``
        means the task's shipped prior (for melodies the shipped Note-RNN).
      out_dir: the run directory (checkpoints, TensorBoard events, stats.json, policy/).
      progress: show a progress bar.

    Returns:
      The final results: the task's statistics (melodies: Table 1) ``before`` and ``after``
      tuning, and ``steps``.
    """
    import dataclasses
    from rl_tuner import tasks
    from rl_tuner.runner import train as train_lib
    if not config.prior:
        config = dataclasses.replace(config, prior=tasks.get_task(config.task).default_prior())
    return train_lib.run(config, out_dir, progress=progress)


def sample(model, num: int, length: int = 32, temperature: float = 1.0, seed: int = 0, primer=None):
    """Samples token sequences: the one public sampling entry point.

    Args:
      model: a tuned policy (:func:`load_policy`) or a loaded sequence model (e.g.
        ``note_rnn.load(...)``, the Note-RNN: its classes are sampled).
      num: number of sequences.
      length: tokens per sequence, a primer included.
      temperature: softmax temperature (``rl_tuner.sampling_args.TEMPERATURE``: in [1e-06, 1000000000]).
      seed: the same seed and num give the same sequences.
      primer: optional tokens every sequence starts with (fewer than ``length``); the model
        continues from its state after them.

    Returns:
      int32 NumPy array [num, length].

    Raises:
      ValueError: for non-positive num, length or temperature, or a bad primer.
    """
    from rl_tuner.runner import policy as policy_lib
    if isinstance(model, policy_lib.Policy):
        from rl_tuner.runner import evaluate
        return evaluate.sample_policy(model, num, length, temperature, seed, primer=primer)["tokens"]
    from rl_tuner.models import sampling
    return sampling.sample_model(model, num, length, temperature, seed, primer=primer)
