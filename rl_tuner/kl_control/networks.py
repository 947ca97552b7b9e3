"""The three networks of KL-control RL, all with the architecture of the pre-trained RNN.

* :class:`RecurrentQNetwork` -- a ``tf_agents.networks.Network`` whose outputs are one
  value per token (Q, Psi or G, depending on the algorithm) and whose state is the
  sequence model's state (the LSTM states; an attention layer's window and an input
  encoder's state too, see :func:`rl_tuner.models.sequence_model.state_spec`). It wraps a :class:`rl_tuner.models.sequence_model.SequenceRNN` built from a config, so that
  ``Network.copy()`` gives an independent network (used for the target network).
* :class:`Prior` -- the frozen reward network: log p(a|s) as a true log-softmax of the
  pre-trained model's logits. Its variables are not trainable and its outputs are wrapped
  in ``tf.stop_gradient``, so no algorithm can change it.
"""

from __future__ import annotations

import numpy as np

from rl_tuner import _tf  # noqa: F401  (selects Keras 2 before TensorFlow)
import tensorflow as tf  # noqa: E402
from tf_agents.networks import network  # noqa: E402
from tf_agents.specs import tensor_spec  # noqa: E402

from rl_tuner.models import sequence_model as model_lib  # noqa: E402


def lstm_state_spec(layer_sizes):
    """The unbatched state spec of a Note-RNN with these LSTM sizes: ((h, c) per layer)."""
    return tuple((tf.TensorSpec([n], tf.float32), tf.TensorSpec([n], tf.float32)) for n in layer_sizes)


class RecurrentQNetwork(network.Network):
    """Q-network over token actions: ``(token [B], state) -> (values [B, C], state)``.

    Args:
      layer_sizes: LSTM units per layer.
      num_classes: number of tokens (actions).
      name: network name.
      config: the full :class:`rl_tuner.models.sequence_model.SequenceRNNConfig` (input size,
        attention); None: one-hot inputs with ``layer_sizes`` and ``num_classes``.
      input_encoder: the prior's input encoder (an encoded-input model's).
    """

    def __init__(self, layer_sizes, num_classes: int, name: str = "q_network", config=None,
                 input_encoder=None):
        if config is None:
            config = model_lib.SequenceRNNConfig(num_classes=num_classes, layer_sizes=tuple(layer_sizes))
        super().__init__(
            input_tensor_spec=tensor_spec.BoundedTensorSpec([], tf.int32, 0, config.num_classes - 1, name="token"),
            state_spec=model_lib.state_spec(config, input_encoder), name=name)
        self._rnn = model_lib.SequenceRNN(config, name=f"{name}_rnn", input_encoder=input_encoder)

    @property
    def rnn(self) -> model_lib.SequenceRNN:
        """The wrapped Note-RNN (same weights)."""
        return self._rnn

    @property
    def num_classes(self) -> int:
        return self._rnn.config.num_classes

    def call(self, observation, step_type=None, network_state=(), training=False):
        del step_type, training
        if not network_state:
            network_state = self._rnn.zero_state(tf.shape(observation)[0])
        return self._rnn.step(observation, network_state)

    def zero_state(self, batch_size):
        """All-zero LSTM state for ``batch_size`` sequences."""
        return self._rnn.zero_state(batch_size)


def q_network_from(pretrained: model_lib.SequenceRNN, name: str = "q_network") -> RecurrentQNetwork:
    """Builds a Q-network with the pre-trained model's architecture and weights."""
    net = RecurrentQNetwork(pretrained.config.layer_sizes, pretrained.config.num_classes, name=name,
                            config=pretrained.config, input_encoder=pretrained.input_encoder)
    net.create_variables()
    net.rnn.copy_weights_from(pretrained)
    return net


def mean_log_partition(rnn: model_lib.SequenceRNN, first_tokens=None, num: int = 256, length: int = 32,
                       seed: int = 0, end_token: int | None = None) -> float:
    """Mean log-partition function logsumexp_a logits(a|s) of ``rnn`` over the states of ``num``
    sequences sampled from it (each from the zero state and a priming token drawn from
    ``first_tokens``, all tokens if None; positions after an end token excluded).

    The soft Bellman fixed point of the prior's own reward (r = log p(a|s)) has values
    Q(s, a) = log p(a|s) + gamma V(s') with V = 0, so raw logits start every Q-value about this
    much too high (about +9.5 nats for the SMILES-RNNs); see :func:`center_values`.

    Returns:
      The mean, a float (nats).
    """
    from rl_tuner.runner import evaluate  # pylint: disable=import-outside-toplevel  (avoids a cycle)
    from rl_tuner.runner.policy import Policy  # pylint: disable=import-outside-toplevel
    samples = evaluate.sample_policy(Policy(rnn), num, length, seed=seed, end_token=end_token, first_tokens=first_tokens)
    tokens, lengths = samples.get("model_tokens", samples["tokens"]), samples["lengths"]
    logits = rnn.token_logits(tf.constant(tokens)).numpy()  # the state after each sampled token
    lse = tf.reduce_logsumexp(logits, axis=-1).numpy()
    valid = np.arange(tokens.shape[1])[None, :] < (np.asarray(lengths) - 1)[:, None]
    return float(lse[valid].mean()) if valid.any() else float(lse.mean())


def center_values(q_network: RecurrentQNetwork, offset: float) -> None:
    """Subtracts ``offset`` from every output of ``q_network`` (its output bias): the initial
    Q-values move near the prior's normalised log p(a|s) while softmax(Q), the initial policy,
    stays the same (a shift of all logits of a state changes no probability)."""
    shift_values(q_network, -float(offset))


def shift_values(q_network: RecurrentQNetwork, offset: float) -> None:
    """Adds ``offset`` (nats) to every output of ``q_network`` through its output bias.

    No policy of any algorithm changes (softmax(Q), argmax Q and p exp(G) are invariant to
    adding one constant to all values of a state); only where the values start.
    """
    q_network.rnn.dense.bias.assign_add(tf.fill(tf.shape(q_network.rnn.dense.bias), float(offset)))


def zero_head(q_network: RecurrentQNetwork) -> None:
    """Sets the output layer of ``q_network`` to 0 (kernel and bias): every initial value is 0.
    With G-learning (policy p exp(G)) the policy then starts exactly at the prior."""
    for var in (q_network.rnn.dense.kernel, q_network.rnn.dense.bias):
        var.assign(tf.zeros_like(var))


class Prior:
    """The frozen reward network: log p(a|s) of the pre-trained model.

    Args:
      pretrained: the pre-trained Note-RNN; a private copy of its weights is kept, so later
        changes to ``pretrained`` do not affect the prior.
    """

    def __init__(self, pretrained: model_lib.SequenceRNN):
        self.rnn = model_lib.SequenceRNN(pretrained.config, name="reward_rnn", input_encoder=pretrained.input_encoder)
        self.rnn.copy_weights_from(pretrained)
        self.rnn.trainable = False

    @property
    def num_classes(self) -> int:
        return self.rnn.config.num_classes

    def zero_state(self, batch_size):
        return self.rnn.zero_state(batch_size)

    def step(self, tokens, state):
        """Returns (log p(. | prefix + tokens) [B, C], new state), without gradients."""
        logits, state = self.rnn.step(tokens, state)
        return tf.stop_gradient(tf.nn.log_softmax(logits)), tf.nest.map_structure(tf.stop_gradient, state)
