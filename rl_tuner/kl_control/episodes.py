"""Whole episodes for the sequence learner: their replay spec and how a rollout is cut into them.

A rollout (:func:`rl_tuner.runner.train._play_episodes`) plays ``T`` = ``max_length`` steps in each of
``N`` environments; every environment starts an episode at the rollout's start and a new one
right after each episode that ends. The sequence learner (:mod:`rl_tuner.kl_control.sequence_learner`)
stores each such episode whole, so that it can run both networks over it from the zero state
(no stored recurrent state) and compute lambda-returns (:func:`rl_tuner.kl_control.targets.lambda_targets`).

One stored episode, padded to ``T`` steps::

    {"tokens": int32 [T + 1],        the first observation, then the action of every step
     "reward": float32 [T],          r_t of the algorithm (rl_tuner.kl_control.targets.Algorithm.reward)
     "done": float32 [T],            1 at a terminal step (no bootstrap)
     "length": int32 [],             steps stored (1..T); an episode still running when the
                                     rollout ended is stored with done 0 at its last step
                                     (it bootstraps there)
     "next_log_prior": [T, C],       log p(.|s_t+1) (only for algorithms that read it: g)
     "end_reward": float32 [T],      r of playing the end token in s_t instead
     "has_end": float32 [T],         1 where that end transition was drawn (RLConfig.end_transitions)
     "features": float32 [T, U]}     the LSTM's top output after each observation (train_head_only)

Padding is 0 everywhere.
"""

from __future__ import annotations

import numpy as np

from rl_tuner import _tf  # noqa: F401
import tensorflow as tf  # noqa: E402


def episode_spec(num_steps: int, num_classes: int, next_log_prior: bool, end_transitions: bool,
                 feature_size: int = 0) -> dict:
    """The unbatched spec of one stored episode (see the module docstring).

    Args:
      num_steps: T, the steps of a rollout (the longest episode).
      num_classes: C, the vocabulary size.
      next_log_prior: store log p(.|s_t+1) [T, C] (G-learning's state value needs it).
      end_transitions: store the end token's rewards (``end_reward``, ``has_end``).
      feature_size: U > 0 stores ``features`` [T, U], the Q-network's top LSTM output after each
        observation (:attr:`rl_tuner.kl_control.sequence_learner.SequenceLearnerConfig.store_features`).

    Returns:
      {name: tf.TensorSpec}.
    """
    spec = {"tokens": tf.TensorSpec([num_steps + 1], tf.int32), "reward": tf.TensorSpec([num_steps], tf.float32),
            "done": tf.TensorSpec([num_steps], tf.float32), "length": tf.TensorSpec([], tf.int32)}
    if next_log_prior:
        spec["next_log_prior"] = tf.TensorSpec([num_steps, num_classes], tf.float32)
    if end_transitions:
        spec["end_reward"] = tf.TensorSpec([num_steps], tf.float32)
        spec["has_end"] = tf.TensorSpec([num_steps], tf.float32)
    if feature_size:
        spec["features"] = tf.TensorSpec([num_steps, feature_size], tf.float32)
    return spec


def split_rollout(rollout: dict, ended, complete_only: bool = False) -> dict:
    """Cuts a rollout of N environments x T steps into its episodes, padded to T steps.

    Args:
      rollout: arrays with leading dimensions [N, T]: ``obs`` int (the token fed at step t:
        the previous action, or a new episode's first token), ``action`` int, ``reward``
        float, ``done`` float (terminal for learning), and optionally ``next_log_prior`` [N, T, C],
        ``end_reward``, ``has_end`` and ``features`` [N, T, U].
      ended: bool [N, T], True where the environment's episode ended at step t (the next step
        starts a new one); for a melody whose last note bootstraps it is True while ``done``
        is 0.
      complete_only: keep only the episodes that ended within the rollout (drop those the
        rollout's end cut). The episodes a rollout cuts are its late-starting LONG ones, so
        bootstrapping them on the target network's value of an unfinished sequence (extrapolated
        from the many shorter, finished ones) pays length; complete episodes need no bootstrap
        (BUILD.md, "The learner at small c").

    Returns:
      The episodes' fields (module docstring) stacked: [E, ...], in the order environment 0's
      episodes first, each environment's in time order. An episode is every maximal run of
      steps of one environment that ends at an ``ended`` step or at the rollout's end.
    """
    ended = np.asarray(ended, bool)
    n, t_max = ended.shape
    starts, stops, rows = [], [], []
    for i in range(n):
        start = 0
        cut = [] if complete_only or ended[i, -1] else [t_max - 1]
        for t in np.flatnonzero(ended[i]).tolist() + cut:
            rows.append(i)
            starts.append(start)
            stops.append(t + 1)
            start = t + 1
    num = len(rows)
    out = {"tokens": np.zeros([num, t_max + 1], np.int32), "length": np.zeros([num], np.int32)}
    per_step = [k for k in ("reward", "done", "next_log_prior", "end_reward", "has_end", "features") if k in rollout]
    for key in per_step:
        value = np.asarray(rollout[key])
        out[key] = np.zeros((num, t_max) + value.shape[2:], np.float32)
    obs, action = np.asarray(rollout["obs"]), np.asarray(rollout["action"])
    for e, (i, start, stop) in enumerate(zip(rows, starts, stops)):
        length = stop - start
        out["length"][e] = length
        out["tokens"][e, 0] = obs[i, start]
        out["tokens"][e, 1:length + 1] = action[i, start:stop]
        for key in per_step:
            out[key][e, :length] = np.asarray(rollout[key])[i, start:stop]
    return out


def record_step(rollout: dict, transitions: dict, ended, end, num_envs: int, spec: dict) -> None:
    """Appends one step's [N] fields to the rollout's lists (the sequence learner's input, cut
    into episodes by :func:`split_rollout`).

    ``end`` is None or (rows, reward) of the step's end transitions; of the optional fields
    (``next_log_prior``, ``features``) only those the episode ``spec`` stores are kept.
    """
    for key in ("obs", "action", "reward", "done"):
        rollout[key].append(np.asarray(transitions[key]))
    rollout["ended"].append(ended)
    for key in ("next_log_prior", "features"):
        if key in spec:
            rollout.setdefault(key, []).append(np.asarray(transitions[key], np.float32))
    if end is not None:
        rows, reward = end
        end_reward, has_end = np.zeros(num_envs, np.float32), np.zeros(num_envs, np.float32)
        end_reward[rows], has_end[rows] = reward, 1.0
        rollout.setdefault("end_reward", []).append(end_reward)
        rollout.setdefault("has_end", []).append(has_end)
