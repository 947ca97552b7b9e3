"""The sequence learner: TD(lambda) on whole stored episodes, both networks run from the zero state.

Each train step samples ``batch_size`` stored episodes (:mod:`rl_tuner.kl_control.episodes`) uniformly, runs
the online network over their tokens (values Q(s_t, .) of every step) and the target network
over the same tokens one step further (Q-(s_t+1, .)), and regresses Q(s_t, a_t) on the
lambda-returns of :func:`rl_tuner.kl_control.targets.lambda_targets`. Compared with the transition learner
(:class:`rl_tuner.kl_control.agent.KLControlLearner`, the original's design):

* no recurrent state is stored: the target network reads s_t+1 from its own unroll, not from
  the online network's state at acting time, and no state is stale after the network changed;
* a reward paid at the end of an episode reaches every earlier step in one update
  (``td_lambda`` 1) instead of one step per bootstrap through the target network.

The loss is the mean squared TD error over the steps of the batch (padding excluded) and the
end transitions stored with it (the end token's value regressed on its terminal reward,
``RLConfig.end_transitions``); gradients are clipped per tensor and applied with the same Adam
as the transition learner, then the target moves by the soft update (tf-agents' formula).
"""

from __future__ import annotations

import dataclasses

from rl_tuner import _tf  # noqa: F401
import tensorflow as tf  # noqa: E402
from tf_agents.utils import common  # noqa: E402

from rl_tuner.kl_control import optim, targets  # noqa: E402


@dataclasses.dataclass
class SequenceLearnerConfig:
    """Hyperparameters of the sequence learner.

    Attributes:
      discount: gamma.
      learning_rate: Adam learning rate.
      clip_norm: each gradient tensor is clipped to this norm separately.
      target_update_rate: eta of the soft target update after every train step.
      batch_size: episodes per train step.
      td_lambda: lambda of the returns (0: one-step targets; 1: the rest of the episode).
      end_token: the task's end token (the action of the stored end transitions), or -1.
      train_head_only: train only the Q-network's output layer (kernel and bias); its LSTM stays
        the prior's. The policy's change is then linear in the prior's features, and the prior's
        syntax (rings and branches that close) cannot be unlearned (BUILD.md, "The learner at
        small c": with the whole network trained, validity drifts down once the KL passes ~0.1).
      store_features: with ``train_head_only``, the episodes hold ``features`` [T, U], the
        LSTM's top-layer output after each observation as the actor computed it
        (:func:`rl_tuner.kl_control.episodes.episode_spec`), and the loss applies the output layers to them
        instead of running the LSTM again: the same numbers (the LSTM is the prior's and never
        changes, in both networks), without the unroll. Only for episodes that end (the value
        after a cut episode's last action is not stored).
      path_consistency: the loss of unified path consistency learning (Nachum et al. 2017,
        "Bridging the gap between value and policy based RL", sec. 5) instead of regression on
        a target: the lambda-1 returns are computed from the ONLINE network's values and the
        gradient flows through them, so every step's error moves the soft value V(s_t) and the
        log-probability log pi(a_k|s_k) of every later played action, not only Q(s_t, a_t). At
        t = 0 it is REINVENT's loss (log p(x) + R(x)/c - log pi(x) - V(s_0))^2 (Olivecrona et
        al. 2017) with a learned log-partition V(s_0). Only for the soft algorithms (psi, g), whose
        path consistency holds for any played actions; ``td_lambda`` is then 1 and the target
        network gives only the bootstrap value of an episode cut by the rollout's end.
    """

    discount: float = 1.0
    learning_rate: float = 1e-4
    clip_norm: float = 5.0
    target_update_rate: float = 0.01
    batch_size: int = 16
    td_lambda: float = 1.0
    end_token: int = -1
    path_consistency: bool = False
    train_head_only: bool = False
    store_features: bool = False


class SequenceLearner(tf.Module):
    """Trains a recurrent Q-network on whole episodes with one of the KL-control algorithms.

    Args:
      q_network: the online :class:`rl_tuner.kl_control.networks.RecurrentQNetwork`.
      target_network: a network of the same architecture (updated only softly).
      algorithm: a :class:`rl_tuner.kl_control.targets.Algorithm`.
      replay: a :class:`rl_tuner.kl_control.replay.UniformReplay` of episodes (:func:`rl_tuner.kl_control.episodes.episode_spec`).
      config: :class:`SequenceLearnerConfig`.
    """

    def __init__(self, q_network, target_network, algorithm: targets.Algorithm, replay,
                 config: SequenceLearnerConfig):
        super().__init__(name="sequence_learner")
        self.q_network = q_network
        self.target_network = target_network
        self.algorithm = algorithm
        self.replay = replay
        self.config = config
        self.trained_variables = list(q_network.trainable_variables)
        if config.train_head_only:
            dense = q_network.rnn.dense
            self.trained_variables = [dense.kernel, dense.bias]
        self.optimizer = optim.FusedAdam(self.trained_variables, config.learning_rate)
        self.train_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="train_steps")

    def loss(self, batch):
        """Mean squared TD error of a batch of episodes.

        Args:
          batch: {field: [B, ...]} episodes (:func:`rl_tuner.kl_control.episodes.episode_spec`).

        Returns:
          (loss scalar, targets y [B, T], mask [B, T] of the stored steps).
        """
        batch = _trim(batch)
        tokens = tf.cast(batch["tokens"], tf.int32)
        num_steps = tf.shape(tokens)[1] - 1
        step = tf.range(num_steps)[None, :]
        length = tf.cast(batch["length"], tf.int32)[:, None]
        mask = tf.cast(step < length, tf.float32)
        has_next = tf.cast(step + 1 < length, tf.float32)
        if "features" in batch:  # the frozen LSTM's outputs, stored at acting time
            values, next_values = _values_of_features(self.q_network.rnn.dense, batch["features"])
            if not self.config.path_consistency:
                next_values = tf.stop_gradient(_values_of_features(self.target_network.rnn.dense,
                                                                   batch["features"])[1])
            last_values = tf.stop_gradient(next_values)  # no episode with a cut end stores features
        elif self.config.path_consistency:
            all_values = self.q_network.rnn.token_logits(tokens)
            values = all_values[:, :-1]                                       # Q(s_t, .)    [B, T, C]
            next_values = all_values[:, 1:]                                   # Q(s_t+1, .)
            cut = tf.reduce_any((has_next == 0.0) & (batch["done"] == 0.0) & (mask > 0.0))
            last_values = tf.cond(  # the target network runs only for a batch with a cut episode
                cut, lambda: tf.stop_gradient(self.target_network.rnn.token_logits(tokens)[:, 1:]),
                lambda: tf.stop_gradient(next_values))
        else:
            values = self.q_network.rnn.token_logits(tokens[:, :-1])
            next_values = last_values = tf.stop_gradient(self.target_network.rnn.token_logits(tokens)[:, 1:])
        next_log_prior = batch.get("next_log_prior")
        state_value = self.algorithm.state_value(next_values, next_log_prior)
        if self.config.path_consistency:  # the target network's value where a cut episode bootstraps
            state_value = has_next * state_value + (1.0 - has_next) * self.algorithm.state_value(last_values,
                                                                                                 next_log_prior)
        actions = tokens[:, 1:]
        q_taken = tf.gather(values, actions, batch_dims=2)
        next_actions = tf.concat([tokens[:, 2:], tf.zeros_like(tokens[:, :1])], axis=1)
        # soft algorithms correct by the played action's value; q and pure RL by V (Peng's Q(lambda))
        correction = tf.gather(next_values, next_actions, batch_dims=2) if self.algorithm.soft else state_value
        y = targets.lambda_targets(batch["reward"], state_value, correction,
                                   self.config.discount, batch["done"], has_next,
                                   1.0 if self.config.path_consistency else self.config.td_lambda)
        if not self.config.path_consistency:
            y = tf.stop_gradient(y)
        squared = tf.square(q_taken - y) * mask
        count = tf.reduce_sum(mask)
        if "has_end" in batch:
            has_end = tf.cast(batch["has_end"], tf.float32)
            q_end = values[:, :, self.config.end_token]
            squared_end = tf.square(q_end - batch["end_reward"]) * has_end
            total = tf.reduce_sum(squared) + tf.reduce_sum(squared_end)
            count = count + tf.reduce_sum(has_end)
        else:
            total = tf.reduce_sum(squared)
        return total / tf.maximum(count, 1.0), y, mask

    def _train_step(self, batch):
        """One Adam step on the loss of ``batch``; returns (loss, mean target over stored steps)."""
        variables = self.trained_variables
        with tf.GradientTape() as tape:
            loss, y, mask = self.loss(batch)
        grads = tape.gradient(loss, variables)
        grads = [tf.clip_by_norm(tf.convert_to_tensor(g), self.config.clip_norm) for g in grads]
        self.optimizer.apply_gradients(zip(grads, variables))
        common.soft_variables_update(self.q_network.variables, self.target_network.variables,
                                     tau=self.config.target_update_rate)
        self.train_steps.assign_add(1)
        return loss, tf.reduce_sum(y * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)

    @tf.function
    def train(self, num_steps):
        """Runs ``num_steps`` train steps on batches of episodes drawn uniformly from the replay.

        Returns:
          (mean loss, mean target value over the stored steps) over the steps (0 when none ran).
        """
        total_loss = tf.constant(0.0)
        total_y = tf.constant(0.0)
        for _ in tf.range(num_steps):
            _, batch = self.replay.sample(self.config.batch_size)
            loss, mean_y = self._train_step(batch)
            total_loss += loss
            total_y += mean_y
        n = tf.maximum(tf.cast(num_steps, tf.float32), 1.0)
        return total_loss / n, total_y / n

    def add_and_train(self, episodes, num_steps):
        """Adds a batch of episodes ({field: [E, ...]}), then trains ``num_steps`` steps.

        Training waits until the replay holds at least ``batch_size`` episodes.
        """
        self.replay.add(episodes)
        ready = int(self.replay.size().numpy()) >= self.config.batch_size
        return self.train(tf.constant(num_steps if ready else 0))


def _trim(batch: dict) -> dict:
    """The batch cut to its longest episode's steps (the padding beyond it is never read)."""
    longest = tf.reduce_max(tf.cast(batch["length"], tf.int32))
    out = {}
    for key, value in batch.items():
        if key == "tokens":
            out[key] = value[:, :longest + 1]
        elif key == "length":
            out[key] = value
        else:
            out[key] = value[:, :longest]
    return out


def _values_of_features(dense, features):
    """(values [B, T, C] after each observation, values after the next one: shifted by one step,
    the last position a copy of the one before: never read, see ``SequenceLearnerConfig.store_features``)."""
    values = dense(features)
    return values, tf.concat([values[:, 1:], values[:, -1:]], axis=1)
