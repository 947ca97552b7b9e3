"""The learner: squared TD loss, per-tensor clipped Adam, soft target update.

The compiled ``train`` method runs several train steps per call, each sampling a
minibatch from the TensorFlow-side replay memory, so a step costs no Python. The math of
one step lives in :meth:`KLControlLearner.loss` (pure) and :meth:`_train_step` (per tensor,
the reference, used with prioritized replay); with uniform replay the XLA-compiled K-step
loop runs the same math over flat parameter buffers (:meth:`_fused_train_step`; tested
equal to :meth:`_train_step` to float32 rounding).

A transition (one note) is the nest::

    {"obs": int32 [],            token fed to the network at s
     "state": LSTM state,        Q-network state before obs (stored at acting time)
     "action": int32 [],         token actually played (= next observation)
     "reward": float32 [],       r of the algorithm (see rl_tuner.kl_control.targets)
     "next_state": LSTM state,   Q-network state after obs; the target network reads the
                                 action from it (as the original: the target net is driven
                                 by the online network's stored state)
     "next_log_prior": [C],      log p(.|s') of the frozen reward network (used by g)
     "done": float32 []}         1 at a terminal transition (no bootstrap)

Only what the algorithm needs is stored (:func:`transition_spec`): ``next_log_prior`` only for
G-learning, and ``next_state`` only when the run keeps it (``RLConfig.store_next_state``);
without it the learner uses the state the online Q-network reaches from (obs, state) in the
same forward pass that gives Q(s, .) (no extra cost, about half the memory: 500,000
Psi-learning transitions of a 1x100 LSTM with 35 tokens take 0.41 GB instead of 0.81 GB,
816 instead of 1616 bytes each; every field, as before, 1756 bytes: 0.88 GB).
"""

from __future__ import annotations

import dataclasses

from rl_tuner import _tf  # noqa: F401
import tensorflow as tf  # noqa: E402
from tf_agents.utils import common  # noqa: E402

from rl_tuner.models import sequence_model as model_lib  # noqa: E402
from rl_tuner.kl_control import networks, optim, targets  # noqa: E402
from rl_tuner.kl_control import replay as replay_lib  # noqa: E402


@dataclasses.dataclass
class LearnerConfig:
    """Hyperparameters of the learner.

    Attributes:
      discount: gamma.
      learning_rate: Adam learning rate (TF1 defaults otherwise: beta1 0.9, beta2 0.999,
        epsilon 1e-8).
      clip_norm: each gradient tensor is clipped to this norm separately, as the original.
      target_update_rate: eta of the soft update theta- <- (1 - eta) theta- + eta theta after
        every train step.
      batch_size: transitions per train step.
      new_priority: with prioritized replay, the priority of a new transition: "max" (the
        largest priority given so far) or "td" (that of its own TD error under the current
        networks, as the Sequence Tutor molecule code; BUILD.md, "The domain-free core and tasks").
      double: the double estimator (:attr:`rl_tuner.kl_control.targets.Algorithm.double_target`): the
        online network's values at s' choose or weight the target network's.
    """

    discount: float = 0.5
    learning_rate: float = 1e-3
    clip_norm: float = 5.0
    target_update_rate: float = 0.01
    batch_size: int = 32
    new_priority: str = "max"
    double: bool = False


def transition_spec(layer_sizes, num_classes: int, next_log_prior: bool = True, next_state: bool = True,
                    state_spec=None):
    """The unbatched spec of one transition (see the module docstring).

    Args:
      layer_sizes: LSTM units per layer of the Q-network.
      num_classes: vocabulary size C.
      next_log_prior: store log p(.|s') [C] (G-learning's target needs it).
      next_state: store the Q-network's state after obs (else the learner recomputes it).
      state_spec: the Q-network's state spec (:meth:`rl_tuner.models.sequence_model.SequenceRNN.state_spec`:
        with an attention window or an input encoder's state, everything the model needs to
        compute its next input); None: an LSTM's, from ``layer_sizes``.

    Returns:
      {name: tf.TensorSpec or nest of them}.
    """
    state = networks.lstm_state_spec(layer_sizes) if state_spec is None else state_spec
    spec = {"obs": tf.TensorSpec([], tf.int32), "state": state, "action": tf.TensorSpec([], tf.int32),
            "reward": tf.TensorSpec([], tf.float32), "done": tf.TensorSpec([], tf.float32)}
    if next_state:
        spec["next_state"] = state
    if next_log_prior:
        spec["next_log_prior"] = tf.TensorSpec([num_classes], tf.float32)
    return spec


class KLControlLearner(tf.Module):
    """Trains a recurrent Q-network with one of the KL-control algorithms.

    Args:
      q_network: the online :class:`rl_tuner.kl_control.networks.RecurrentQNetwork`.
      target_network: a network of the same architecture (updated only softly).
      algorithm: a :class:`rl_tuner.kl_control.targets.Algorithm`.
      replay: a replay memory of transitions.
      config: :class:`LearnerConfig`.
    """

    def __init__(self, q_network, target_network, algorithm: targets.Algorithm, replay, config: LearnerConfig):
        super().__init__(name="learner")
        self.q_network = q_network
        self.target_network = target_network
        self.algorithm = algorithm
        self.replay = replay
        self.config = config
        self.optimizer = optim.FusedAdam(q_network.trainable_variables, config.learning_rate)
        self.train_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="train_steps")
        # Flat working copies of the parameters, the target and the Adam slots for the compiled
        # K-step loop (not checkpointed: loaded from and written back to the variables above).
        self.layout, self._flat = None, None
        if [v.ref() for v in q_network.trainable_variables] == [v.ref() for v in q_network.variables]:
            self.layout = optim.FlatLayout([v.shape for v in q_network.variables])
            self._flat = {k: tf.Variable(tf.zeros([self.layout.size]), trainable=False, name=f"flat_{k}")
                          for k in ("theta", "target", "m", "v")}

    def loss(self, batch):
        """Squared TD loss of a batch of transitions.

        Returns:
          (loss scalar, td_errors [B], targets [B], q_values [B, C]).
        """
        values, state_after = self.q_network(batch["obs"], network_state=batch["state"])
        q_sa = tf.gather(values, batch["action"], batch_dims=1)
        next_state = batch.get("next_state")
        if next_state is None:  # not stored: the online network's own state after obs
            next_state = tf.nest.map_structure(tf.stop_gradient, state_after)
        next_values = self.target_values(batch["action"], next_state)
        if self.config.double:
            online_next = self.q_network.rnn.step(batch["action"], next_state)[0]
            y = self.algorithm.double_target(batch["reward"], tf.stop_gradient(next_values), self.config.discount,
                                             batch["done"], batch.get("next_log_prior"), tf.stop_gradient(online_next))
        else:
            y = self.algorithm.target(batch["reward"], tf.stop_gradient(next_values), self.config.discount,
                                      batch["done"], batch.get("next_log_prior"))
        y = tf.stop_gradient(y)
        td = q_sa - y
        return tf.reduce_mean(tf.square(td)), td, y, values

    def target_values(self, tokens, state):
        """The target network's values ``target_network(tokens, network_state=state)[0]``.

        Computed layer by layer as ``SequenceRNN.step`` does
        (``rl_tuner.models.cells.lstm_cell_step``), except that the first layer's input
        projection is ``one_hot(tokens) @ kernel`` rather than a row gather of the kernel: the
        same numbers (each sum has one product by 1, the
        others are 0 for finite weights), but inside the compiled train loop XLA fuses a gather
        into the LSTM gates as scalar code, about 5x the cost of this product (BUILD.md,
        "Learner throughput").

        A model whose input is not a one-hot of the token, or with an attention layer, is
        stepped by its own :meth:`rl_tuner.models.sequence_model.SequenceRNN.step` (its encoder state
        in ``state`` gives the input after the action).

        Args:
          tokens: int32 [B], the actions a.
          state: the network state after the observation (``next_state`` of the transitions).

        Returns:
          float32 [B, num_classes].
        """
        rnn = self.target_network.rnn
        if rnn.has_encoder_state or rnn.config.attention_length:
            return rnn.step(tokens, state)[0]
        x = tf.one_hot(tokens, rnn.config.num_classes)
        for layer, (h, c) in zip(rnn.lstm_layers, state):
            cell = layer.cell
            x, _ = model_lib.lstm_cell_step(tf.matmul(x, cell.kernel), h, c, cell.recurrent_kernel, cell.bias)
        return rnn.dense(x)

    def _train_step(self, batch):
        variables = self.q_network.trainable_variables
        with tf.GradientTape() as tape:
            loss, td, y, _ = self.loss(batch)
        grads = tape.gradient(loss, variables)
        grads = [tf.clip_by_norm(tf.convert_to_tensor(g), self.config.clip_norm) for g in grads]
        self.optimizer.apply_gradients(zip(grads, variables))
        self.soft_update()
        self.train_steps.assign_add(1)
        return loss, td, y

    def _fused_train_step(self, batch):
        """:meth:`_train_step` on the flat buffers: the same math in a few large kernels.

        The gradients are packed into one vector and clipped per tensor
        (:meth:`rl_tuner.kl_control.optim.FlatLayout.clip_by_norm`), one ``ResourceApplyAdam`` updates all
        parameters, one op the whole target (``(1 - eta) theta- + eta theta``, tf-agents'
        formula), then the network variables are set from the flat vectors. Only the order of
        the additions inside each clip norm differs from :meth:`_train_step`.
        """
        variables = self.q_network.variables
        with tf.GradientTape() as tape:
            loss, td, y, _ = self.loss(batch)
        grads = tape.gradient(loss, variables)
        flat = self._flat
        clipped = self.layout.clip_by_norm(self.layout.flatten(grads), self.config.clip_norm)
        self.optimizer.apply_flat(flat["theta"], flat["m"], flat["v"], clipped)
        eta = self.config.target_update_rate
        if eta == 1.0:  # the special cases of tf-agents' soft_variables_update
            flat["target"].assign(flat["theta"])
        elif eta != 0.0:
            flat["target"].assign((1 - eta) * flat["target"] + eta * flat["theta"])
        for var, value in zip(variables, self.layout.split(flat["theta"])):
            var.assign(value)
        for var, value in zip(self.target_network.variables, self.layout.split(flat["target"])):
            var.assign(value)
        self.train_steps.assign_add(1)
        return loss, td, y

    def _load_flat(self):
        """Packs the parameters, the target and the Adam slots into the flat buffers."""
        for key, tensors in (("theta", self.q_network.variables), ("target", self.target_network.variables),
                             ("m", self.optimizer.m), ("v", self.optimizer.v)):
            self._flat[key].assign(self.layout.flatten(tensors))

    def _store_flat(self):
        """Writes the flat Adam slots back (the network variables are set at every step)."""
        for key, slots in (("m", self.optimizer.m), ("v", self.optimizer.v)):
            for var, value in zip(slots, self.layout.split(self._flat[key])):
                var.assign(value)

    def soft_update(self):
        """theta- <- (1 - eta) theta- + eta theta (tf-agents' soft_variables_update)."""
        return common.soft_variables_update(self.q_network.variables, self.target_network.variables,
                                            tau=self.config.target_update_rate)

    @tf.function
    def train(self, num_steps):
        """Runs ``num_steps`` train steps on minibatches sampled from the replay.

        With uniform replay all ``num_steps`` minibatches are drawn first (the replay does
        not change during the call, so this is the same distribution) and the steps run in
        one XLA-compiled loop; with prioritized replay each minibatch is drawn after the
        previous step's priority update.

        Returns:
          (mean loss, mean target value) over the steps (0 when no step ran).
        """
        if isinstance(self.replay, replay_lib.PrioritizedReplay):
            return self._train_sequential(num_steps)
        return tf.cond(num_steps > 0, lambda: self._train_uniform(num_steps), lambda: (0.0, 0.0))

    def _train_uniform(self, num_steps):
        batch_size = self.config.batch_size
        batches = self.replay.gather(self.replay.sample_indices(num_steps * batch_size))
        batches = tf.nest.map_structure(
            lambda x: tf.reshape(x, tf.concat([[num_steps, batch_size], tf.shape(x)[1:]], 0)), batches)
        total_loss, total_y = self._train_presampled(batches, num_steps)
        n = tf.maximum(tf.cast(num_steps, tf.float32), 1.0)
        return total_loss / n, total_y / n

    @tf.function(jit_compile=True)
    def _train_presampled(self, batches, num_steps):
        fused = self._flat is not None
        train_step = self._fused_train_step if fused else self._train_step
        if fused:
            self._load_flat()

        def body(i, total_loss, total_y):
            loss, _, y = train_step(tf.nest.map_structure(lambda x: x[i], batches))
            return i + 1, total_loss + loss, total_y + tf.reduce_mean(y)

        _, total_loss, total_y = tf.while_loop(lambda i, *_: i < num_steps, body,
                                               (tf.constant(0), tf.constant(0.0), tf.constant(0.0)))
        if fused:
            self._store_flat()
        return total_loss, total_y

    def _train_sequential(self, num_steps):
        total_loss = tf.constant(0.0)
        total_y = tf.constant(0.0)
        for _ in tf.range(num_steps):
            idx, batch = self.replay.sample(self.config.batch_size)
            loss, td, y = self._train_step(batch)
            self.replay.update_priorities(idx, td)
            total_loss += loss
            total_y += tf.reduce_mean(y)
        n = tf.maximum(tf.cast(num_steps, tf.float32), 1.0)
        return total_loss / n, total_y / n

    @tf.function
    def add_and_train(self, transitions, num_steps):
        """Adds a batch of transitions, then trains ``num_steps`` steps (one compiled call).

        With prioritized replay and ``new_priority="td"`` the new transitions get the
        priority of their TD error under the networks as they are before these steps.
        """
        if isinstance(self.replay, replay_lib.PrioritizedReplay) and self.config.new_priority == "td":
            _, td, _, _ = self.loss(replay_lib.select_fields(self.replay.spec, transitions))
            self.replay.add(transitions, priorities=replay_lib.priority(td))
        else:
            self.replay.add(transitions)
        ready = self.replay.size() >= self.config.batch_size
        return self.train(tf.where(ready, num_steps, 0))


def build_target_network(q_network):
    """A copy of ``q_network`` (same architecture and weights) for the target values."""
    target = q_network.copy(name="target_" + q_network.name)
    target.create_variables()
    common.soft_variables_update(q_network.variables, target.variables, tau=1.0)
    target.trainable = False
    return target
