"""Sequence Tutor (KL-control RL, Jaques et al. 2017) as a ``molecules benchmark`` optimiser
(``--algorithm sequence_tutor``): the project's KL-control learner under PMO's budget.

The policy starts as the SMILES-RNN prior (G-learning: a zero output head, policy p exp G;
Psi-learning: the prior's logits, centred). Each step samples ``batch_size`` molecules from the
current policy (the core's compiled policy sampler from ``<bos>``, at most ``max_length``
tokens), keeps the distinct token sequences, scores them through the budgeted oracle (a string
that is not a molecule scores 0, a repeat its known score: both free), stores each as one
complete episode in a uniform replay of ``replay_size`` episodes, and runs
``updates_per_batch`` updates of :class:`rl_tuner.kl_control.sequence_learner.SequenceLearner` on
``train_batch_size`` episodes drawn from the replay (off-policy: every expensive call is reused
until its episode leaves the replay). With ``best_size`` > 0, ``best_per_update`` of each
update's episodes come instead from a second memory of the ``best_size`` best distinct
molecules seen so far (REINVENT's experience replay, which PMO's REINVENT uses: path
consistency holds for any data, so the mix changes what is learned first, not the optimum).

The reward of an episode is the objective's score S in [0, 1] of the finished molecule, paid
at its last step and divided by the KL weight ``c`` (r_T / c; psi adds log p(a|s) at every
step: :meth:`rl_tuner.kl_control.targets.Algorithm.reward`); the optimum is pi ~ p exp(S / c), the target
of REINVENT's loss with sigma = 1 / c (sigma 500 is c = 0.002). ``loss`` ``path`` is unified
path consistency (Nachum et al. 2017; at t = 0 it is REINVENT's loss with a learned log Z),
``lambda`` regression on lambda-returns of the target network (``td_lambda``). A sequence that
reaches ``max_length`` without the end token is scored as written and stored as a terminal
episode. Before the first update the values are shifted by the first batch's mean S / c (the
prior's mean return: :func:`rl_tuner.kl_control.value_offset.prior_return`'s idea; no policy changes).

Importing this module loads no TensorFlow (the settings serve ``--help``).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from rl_tuner.plumbing.ranges import COUNT, at_least, between, check_ranges, positive

ALGORITHMS = ("g", "psi")
LOSSES = ("path", "lambda")


@dataclasses.dataclass(frozen=True)
class TutorConfig:
    """Settings of ``--algorithm sequence_tutor`` (BUILD.md, "Sequence Tutor on PMO": the sweep
    that chose the defaults).

    Attributes:
      rl_algorithm: the KL-control algorithm, g (G-learning: r = r_T / c, policy p exp G) or psi
        (Psi-learning: r = log p(a|s) + r_T / c, policy softmax Psi); Jaques et al. 2017, sec. 3.
      c: the KL weight; the reward of a finished molecule is its score / c (REINVENT's sigma is 1 / c).
      loss: path (unified path consistency, Nachum et al. 2017) or lambda (regression on the
        target network's lambda-returns).
      td_lambda: lambda of the returns with loss lambda (1: the rest of the episode).
      batch_size: molecules sampled from the policy per step.
      updates_per_batch: learner updates after each step's molecules are stored.
      train_batch_size: episodes per learner update, drawn uniformly from the replay (and the
        best memory).
      replay_size: episodes the replay keeps (the oldest are overwritten; the size of one batch
        makes every update on-policy but for the best memory's share).
      best_size: the best distinct molecules kept in a second memory (0: none).
      best_per_update: episodes of each update drawn uniformly from the best memory (the rest
        from the replay); needs ``best_size`` > 0.
      learning_rate: Adam learning rate.
      train_head_only: train only the output layer (the LSTM stays the prior's).
      target_update_rate: soft update of the target network after every update (loss lambda).
      max_length: tokens sampled per molecule at most, the end token included.
      patience: stop after this many steps past 1,000 calls without a change of the top-100
        scores (mol_opt's rule, as ``--algorithm dap``; 0: never; a run also stops after 100
        steps without a new molecule).
    """

    rl_algorithm: str = "g"
    c: float = 0.002
    loss: str = "path"
    td_lambda: float = 1.0
    batch_size: int = 64
    updates_per_batch: int = 4
    train_batch_size: int = 64
    replay_size: int = 1024
    best_size: int = 0
    best_per_update: int = 0
    learning_rate: float = 5e-4
    train_head_only: bool = False
    target_update_rate: float = 0.01
    max_length: int = 120
    patience: int = 5

    RANGES = {"c": positive(), "td_lambda": between(0.0, 1.0), "batch_size": COUNT, "updates_per_batch": at_least(0),
              "train_batch_size": COUNT, "replay_size": COUNT, "best_size": at_least(0), "best_per_update": at_least(0),
              "learning_rate": positive(),
              "target_update_rate": between(0.0, 1.0), "max_length": COUNT, "patience": at_least(0)}
    CHOICES = {"rl_algorithm": ALGORITHMS, "loss": LOSSES}

    def __post_init__(self):
        """Raises ValueError naming a setting outside its range or choices."""
        check_ranges(self, self.RANGES)
        for name, allowed in self.CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        if self.best_per_update and (not self.best_size or self.best_per_update >= self.train_batch_size):
            raise ValueError(f"best_per_update ({self.best_per_update}) needs best_size > 0 (got {self.best_size}) "
                             f"and must be < train_batch_size ({self.train_batch_size})")
        if self.train_batch_size - self.best_per_update > self.replay_size:
            raise ValueError(f"train_batch_size - best_per_update ({self.train_batch_size - self.best_per_update}) "
                             f"must be <= replay_size ({self.replay_size})")


def episodes(seqs, scores, log_prior, algorithm, c: float, num_steps: int) -> dict:
    """The replay episodes (:func:`rl_tuner.kl_control.episodes.episode_spec`) of scored molecules.

    Args:
      seqs: N int sequences ``<bos>`` then the sampled tokens (the end token last if sampled),
        each of at most ``num_steps + 1`` tokens.
      scores: N objective scores S (0 for a string that is not a molecule).
      log_prior: float32 [N, W, C], log p(.|prefix) after each of the first W >= len(seq)
        tokens of each sequence (the prior's log-softmax from the zero state).
      algorithm: a :class:`rl_tuner.kl_control.targets.Algorithm` (psi or g).
      c: the KL weight.
      num_steps: T, the padded episode length (``max_length``).

    Returns:
      {"tokens" int32 [N, T + 1], "reward", "done" float32 [N, T], "length" int32 [N] and, for
      g, "next_log_prior" float32 [N, T, C]}: step t plays token t + 1; its reward is
      ``algorithm.reward(r_T, log p(a_t|s_t), c)`` with r_T = S at the last step, else 0; the
      last step is terminal.
    """
    log_prior = np.asarray(log_prior, np.float32)
    n, classes = len(seqs), log_prior.shape[-1]
    out = {"tokens": np.zeros([n, num_steps + 1], np.int32), "reward": np.zeros([n, num_steps], np.float32),
           "done": np.zeros([n, num_steps], np.float32), "length": np.zeros([n], np.int32)}
    if algorithm.uses_next_log_prior:
        out["next_log_prior"] = np.zeros([n, num_steps, classes], np.float32)
    for i, (seq, score) in enumerate(zip(seqs, scores)):
        steps = len(seq) - 1
        task = np.zeros(steps, np.float64)
        task[-1] = score
        picked = log_prior[i, np.arange(steps), seq[1:]]
        out["tokens"][i, :steps + 1] = seq
        out["reward"][i, :steps] = algorithm.reward(task, picked.astype(np.float64), c)
        out["done"][i, steps - 1] = 1.0
        out["length"][i] = steps
        if algorithm.uses_next_log_prior:
            out["next_log_prior"][i, :steps] = log_prior[i, 1:steps + 1]
    return out


class BestEpisodes:
    """The episodes of the ``size`` best distinct molecules seen so far (NumPy rows), best first
    (ties: the earlier one first).

    Args:
      size: molecules kept.
    """

    def __init__(self, size: int):
        self.size = size
        self.items: list = []  # (-score, arrival, key, {field: row})
        self._arrivals = 0

    def add(self, keys, scores, batch: dict) -> None:
        """Adds the episodes of ``batch`` ({field: [N, ...]}, :func:`episodes`) whose ``keys``
        (e.g. SMILES) are not kept yet, then keeps the ``size`` best by ``scores``."""
        kept = {item[2] for item in self.items}
        for i, (key, score) in enumerate(zip(keys, scores)):
            if key not in kept:
                kept.add(key)
                self.items.append((-float(score), self._arrivals, key, {k: v[i] for k, v in batch.items()}))
                self._arrivals += 1
        self.items.sort(key=lambda item: item[:2])
        del self.items[self.size:]

    def keys(self) -> list:
        """The kept keys, best first."""
        return [item[2] for item in self.items]

    def stacked(self) -> dict:
        """The kept episodes as {field: [K, ...]}, best first."""
        return {k: np.stack([item[3][k] for item in self.items]) for k in self.items[0][3]}


class MixedReplay:
    """What the learner draws from: each batch is ``batch_size - num_best`` episodes of
    ``recent`` and ``num_best`` of ``best`` (both :class:`rl_tuner.kl_control.replay.UniformReplay`), joined."""

    def __init__(self, recent, best, num_best: int):
        self.recent, self.best, self.num_best = recent, best, num_best

    def sample(self, batch_size: int):
        """(None, {field: [batch_size, ...]}) (TensorFlow ops, usable in a compiled loop)."""
        import tensorflow as tf  # pylint: disable=import-outside-toplevel
        _, recent = self.recent.sample(batch_size - self.num_best)
        _, best = self.best.sample(self.num_best)
        return None, {k: tf.concat([recent[k], best[k]], 0) for k in recent}


class Tutor:
    """The tuned network, the prior, the replay and the sequence learner (TensorFlow).

    Args:
      prior: the SMILES-RNN (:class:`rl_tuner.models.sequence_model.SequenceRNN`); never trained.
      tokenizer: its atom-level tokenizer (``begin_id``, ``end_id``).
      config: a :class:`TutorConfig`.
      seed: seeds TensorFlow and the replay's draws.
    """

    def __init__(self, prior, tokenizer, config: TutorConfig, seed: int):
        import tensorflow as tf  # pylint: disable=import-outside-toplevel
        from rl_tuner.kl_control import agent, episodes as episodes_lib, networks, replay, sequence_learner, targets  # pylint: disable=import-outside-toplevel
        from rl_tuner.runner import policy  # pylint: disable=import-outside-toplevel
        tf.keras.utils.set_random_seed(seed)
        self.config, self.tokenizer = config, tokenizer
        self.algorithm = targets.get_algorithm(config.rl_algorithm)
        self.prior = networks.Prior(prior)
        self.q_network = networks.q_network_from(prior)
        if config.rl_algorithm == "g":
            networks.zero_head(self.q_network)  # G = 0: the policy p exp G is the prior exactly
        self.target_network = agent.build_target_network(self.q_network)
        spec = episodes_lib.episode_spec(config.max_length, prior.config.num_classes,
                                         next_log_prior=self.algorithm.uses_next_log_prior, end_transitions=False)
        self.replay = replay.UniformReplay(spec, config.replay_size, seed=seed + 1)
        self.best, draws = None, self.replay
        if config.best_size:
            self.best = BestEpisodes(config.best_size)
            self.best_replay = replay.UniformReplay(spec, config.best_size, seed=seed + 2)
            draws = MixedReplay(self.replay, self.best_replay, config.best_per_update)
        self.learner = sequence_learner.SequenceLearner(
            self.q_network, self.target_network, self.algorithm, draws,
            sequence_learner.SequenceLearnerConfig(
                discount=1.0, learning_rate=config.learning_rate, target_update_rate=config.target_update_rate,
                batch_size=config.train_batch_size, td_lambda=config.td_lambda,
                path_consistency=config.loss == "path", train_head_only=config.train_head_only))
        self.policy = policy.Policy(self.prior.rnn, self.q_network.rnn, config.rl_algorithm)
        self.value_offset = None

        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])
        def prior_log_probs(tokens):
            return tf.nn.log_softmax(self.prior.rnn.token_logits(tokens))

        self._prior_log_probs = prior_log_probs

    def sample(self, num: int, seed: int) -> tuple:
        """``num`` sequences from the policy: (int32 [num, max_length + 1] tokens starting with
        ``<bos>``, cut after the first end token; mean KL(pi || p) per sampled token)."""
        from rl_tuner.runner import evaluate  # pylint: disable=import-outside-toplevel
        begin, end = self.tokenizer.begin_id, self.tokenizer.end_id
        out = evaluate.sample_policy(self.policy, num, self.config.max_length + 1, 1.0, seed, primer=[begin],
                              end_token=end, never_sampled=[begin])
        steps = np.arange(out["tokens"].shape[1])[None, :]
        sampled = (steps >= 1) & (steps < out["lengths"][:, None])
        return out["tokens"], float(out["kl"][sampled].mean())

    def prior_log_probs(self, seqs) -> np.ndarray:
        """float32 [N, W, C]: the prior's log p(.|prefix) after each token of each sequence
        (padded to the longest, W tokens)."""
        return self._prior_log_probs(_padded(seqs)).numpy()

    def shift_values(self, offset: float) -> None:
        """Adds ``offset`` nats to every value of both networks (no policy changes)."""
        from rl_tuner.kl_control import networks  # pylint: disable=import-outside-toplevel
        for net in (self.q_network, self.target_network):
            networks.shift_values(net, offset)
        self.value_offset = float(offset)

    def store_and_learn(self, batch: dict, keys=None, scores=None) -> float | None:
        """Adds the episodes (and, with a best memory, keeps the best of them by ``scores``,
        distinct by ``keys``), then runs ``updates_per_batch`` updates (none until the replay
        holds the ``train_batch_size - best_per_update`` it draws); returns the mean loss (None if
        none ran)."""
        import tensorflow as tf  # pylint: disable=import-outside-toplevel
        self.replay.add(batch)
        if self.best is not None:
            self.best.add(keys, scores, batch)
            self.best_replay.num_added.assign(0)  # rewritten whole: the kept episodes, best first
            self.best_replay.add(self.best.stacked())
        needed = self.config.train_batch_size - self.config.best_per_update
        if int(self.replay.size().numpy()) < needed or not self.config.updates_per_batch:
            return None
        loss, _ = self.learner.train(tf.constant(self.config.updates_per_batch))
        return float(loss)


def first_offset(tutor: Tutor, seqs, scores) -> float:
    """The values' start: the mean r_T / c of the first batch (sampled from the prior), minus for
    psi the mean log-partition logsumexp of the prior's logits over the batch's states (its
    head starts at the prior's logits, as ``rl-tuner train --head-init centered``)."""
    offset = float(np.mean(scores)) / tutor.config.c
    if tutor.config.rl_algorithm == "psi":
        import tensorflow as tf  # pylint: disable=import-outside-toplevel
        lse = tf.reduce_logsumexp(tutor.prior.rnn.token_logits(_padded(seqs)), axis=-1).numpy()
        mask = np.arange(lse.shape[1])[None, :] < np.array([len(s) - 1 for s in seqs])[:, None]
        offset -= float(lse[mask].mean())
    return offset


def _padded(seqs) -> np.ndarray:
    """int32 [N, W] of N sequences padded with 0 to the longest (W tokens)."""
    width = max(len(s) for s in seqs)
    tokens = np.zeros([len(seqs), width], np.int32)
    for i, s in enumerate(seqs):
        tokens[i, :len(s)] = s
    return tokens


def optimise(oracle, prior_path: str, seed: int, config: TutorConfig, timer=None) -> dict:
    """Runs Sequence Tutor until ``oracle.finished`` (see the module docstring).

    Args:
      oracle: a :class:`molecules.oracle.BudgetedOracle`.
      prior_path: a SMILES-RNN checkpoint with an atom-level vocabulary (a ``<bos>`` token).
      seed: seeds TensorFlow, the sampling and the replay draws.
      config: a :class:`TutorConfig`.
      timer: optional ``{"sampling", "scoring", "learning"}`` dict the seconds are added to.

    Returns:
      ``{"steps": batches sampled, "updates": learner updates, "value_offset": nats,
      "last_kl": mean KL(pi || p) per token of the last batch, "last_loss": the last mean loss,
      "stopped_early": why the run stopped before the budget, or None}``.

    Raises:
      FileNotFoundError, ValueError: a missing or unsuitable prior.
    """
    from molecules import prior as prior_lib  # pylint: disable=import-outside-toplevel  (TensorFlow)
    from molecules.dap import add_seconds, sequences  # pylint: disable=import-outside-toplevel
    from molecules.oracle import EarlyStop  # pylint: disable=import-outside-toplevel
    prior, tokenizer = prior_lib.load_with_begin(prior_path, "sequence_tutor")
    tutor = Tutor(prior, tokenizer, config, seed)
    rng = np.random.default_rng(seed)
    timer = timer if timer is not None else {}
    steps, updates, kl, loss, stop = 0, 0, 0.0, None, EarlyStop(oracle, config.patience)
    while not oracle.finished:
        stop.before()
        t0 = time.perf_counter()
        tokens, kl = tutor.sample(config.batch_size, int(rng.integers(2 ** 31)))
        seqs = sequences(tokens, tokenizer.end_id)
        smiles = [tokenizer.decode(s[1:]) for s in seqs]
        t1 = time.perf_counter()
        scores = oracle.score_batch(smiles)
        t2 = time.perf_counter()
        add_seconds(timer, sampling=t1 - t0, scoring=t2 - t1)
        steps += 1
        if oracle.finished or stop.after():
            break
        log_prior = tutor.prior_log_probs(seqs)
        if tutor.value_offset is None:
            tutor.shift_values(first_offset(tutor, seqs, scores))
        batch_loss = tutor.store_and_learn(episodes(seqs, scores, log_prior, tutor.algorithm, config.c,
                                                    config.max_length), smiles, scores)
        if batch_loss is not None:
            updates += config.updates_per_batch
            loss = batch_loss
        add_seconds(timer, learning=time.perf_counter() - t2)
    return {"steps": steps, "updates": updates, "value_offset": tutor.value_offset, "last_kl": kl,
            "last_loss": loss, "stopped_early": stop.reason}

