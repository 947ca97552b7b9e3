"""REINVENT's augmented-likelihood method ("DAP"; Olivecrona et al. 2017, as tuned in PMO: Gao et
al. 2022, ``mol_opt/main/reinvent``) as a ``molecules benchmark`` optimiser (``--algorithm dap``).

The agent starts as a copy of the SMILES-RNN prior. Each step samples ``batch_size`` molecules
from the agent, keeps the distinct token sequences, scores them with the budgeted oracle (a
string that is not a molecule scores 0) and takes one Adam step on

    loss = mean_x (log p_prior(x) + sigma * S(x) - log pi(x))^2 + penalty * mean_x (-1 / log pi(x))

over the batch and ``experience_replay`` molecules drawn from the memory of the best
``experience_size`` seen (probability proportional to the score, without replacement), where
log p(x) is the sequence log-likelihood (the end token included). The second term is
REINVENT's regulariser against very likely sequences (weight 5e3 in REINVENT and mol_opt). The
run ends at the budget, or (mol_opt's early stop) after ``patience`` consecutive steps past
1,000 calls that leave the top-100 scores unchanged (:class:`molecules.oracle.EarlyStop`, which
also ends a run after 100 steps without a new molecule). The minimiser of the first term is
pi ~ p_prior exp(sigma S): Sequence Tutor's KL-control target with c = 1/sigma.

Importing this module loads no TensorFlow (the settings serve ``--help``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from rl_tuner.plumbing.ranges import COUNT, at_least, check_ranges, positive


@dataclasses.dataclass(frozen=True)
class DapConfig:
    """Settings of ``--algorithm dap``; the defaults are PMO's tuned REINVENT
    (``mol_opt/main/reinvent/hparams_default.yaml``; REINVENT 4's defaults are sigma 128,
    batch 100, learning rate 1e-4).

    Attributes:
      sigma: weight of the score in the augmented log-likelihood (PMO: 500).
      batch_size: molecules sampled per step (PMO: 64).
      learning_rate: Adam learning rate (PMO: 5e-4; beta 0.9, 0.999, epsilon 1e-8 as PyTorch).
      experience_replay: best molecules replayed per step (PMO: 24; 0: no replay).
      experience_size: molecules the replay memory keeps, the best distinct ones (REINVENT: 100).
      likelihood_penalty: weight of REINVENT's term mean(-1 / log pi(x)) (REINVENT: 5e3; 0: off).
      patience: stop after this many steps past 1,000 calls without a change of the top-100
        scores (mol_opt: 5; 0: never stop early).
      max_length: tokens sampled per molecule at most, the end token included.
    """

    sigma: float = 500.0
    batch_size: int = 64
    learning_rate: float = 5e-4
    experience_replay: int = 24
    experience_size: int = 100
    likelihood_penalty: float = 5e3
    patience: int = 5
    max_length: int = 120

    RANGES = {"sigma": at_least(0.0, integer=False), "batch_size": COUNT, "learning_rate": positive(),
              "experience_replay": at_least(0), "experience_size": COUNT,
              "likelihood_penalty": at_least(0.0, integer=False), "patience": at_least(0), "max_length": COUNT}

    def __post_init__(self):
        """Raises ValueError naming a setting outside its range (``RANGES``)."""
        check_ranges(self, self.RANGES)


class Experience:
    """REINVENT's replay memory: the best distinct molecules seen (``mol_opt``'s ``Experience``).

    Args:
      size: molecules kept.
    """

    def __init__(self, size: int):
        self.size = size
        self.memory: list = []  # (smiles, score, prior log-likelihood, tokens)

    def __len__(self) -> int:
        return len(self.memory)

    def add(self, items) -> None:
        """Adds ``(smiles, score, prior_logp, tokens)`` items; past ``size`` the memory keeps the
        first copy of each SMILES, then the ``size`` best by score (stable)."""
        self.memory.extend(items)
        if len(self.memory) > self.size:
            seen, distinct = set(), []
            for item in self.memory:
                if item[0] not in seen:
                    seen.add(item[0])
                    distinct.append(item)
            distinct.sort(key=lambda item: item[1], reverse=True)
            self.memory = distinct[:self.size]

    def sample(self, n: int, rng: np.random.Generator) -> list:
        """``n`` distinct items, drawn with probability proportional to score + 1e-10.

        Raises:
          ValueError: fewer than ``n`` items.
        """
        if len(self.memory) < n:
            raise ValueError(f"the replay memory holds {len(self.memory)} molecules, fewer than {n}")
        p = np.array([item[1] for item in self.memory], np.float64) + 1e-10
        picked = rng.choice(len(self.memory), size=n, replace=False, p=p / p.sum())
        return [self.memory[i] for i in picked]


def sequences(tokens: np.ndarray, end_id: int) -> list:
    """The distinct sampled sequences, in first-seen order, each cut after its end token.

    Args:
      tokens: int [B, L] samples, each starting with the begin token.
      end_id: the end token.

    Returns:
      list of int32 arrays (begin token, molecule tokens, the end token if it was sampled).
    """
    out, seen = [], set()
    for row in np.asarray(tokens):
        ends = np.flatnonzero(row[1:] == end_id)
        seq = row[:ends[0] + 2] if len(ends) else row
        key = seq.tobytes()
        if key not in seen:
            seen.add(key)
            out.append(seq.astype(np.int32))
    return out


def pad(seqs) -> tuple:
    """``(inputs, targets, mask)`` [N, T-1] of sequences of at most T tokens (padding 0, mask 0)."""
    width = max(len(s) for s in seqs)
    arr = np.zeros((len(seqs), width), np.int32)
    mask = np.zeros((len(seqs), width - 1), np.float32)
    for i, s in enumerate(seqs):
        arr[i, :len(s)] = s
        mask[i, :len(s) - 1] = 1.0
    return arr[:, :-1], arr[:, 1:], mask


class Learner:
    """The agent, the prior and the compiled likelihood and update (TensorFlow).

    Args:
      prior: the SMILES-RNN (:class:`rl_tuner.models.sequence_model.SequenceRNN`); never trained.
      config: a :class:`DapConfig`.
    """

    def __init__(self, prior, config: DapConfig):
        from rl_tuner.models import sequence_model  # pylint: disable=import-outside-toplevel  (TensorFlow)
        import tensorflow as tf  # pylint: disable=import-outside-toplevel
        self.prior = prior
        self.agent = sequence_model.build(prior.config, prior.get_named_weights(), name="dap_agent")
        optimizer = tf.keras.optimizers.Adam(config.learning_rate, epsilon=1e-8)
        spec = [tf.TensorSpec([None, None], tf.int32)] * 2 + [tf.TensorSpec([None, None], tf.float32)]

        def log_likelihood(model, inputs, targets, mask):
            logp = tf.nn.log_softmax(model(inputs))
            picked = tf.gather(logp, targets, batch_dims=2)
            return tf.reduce_sum(picked * mask, axis=1)

        @tf.function(input_signature=spec)
        def prior_logp(inputs, targets, mask):
            return log_likelihood(self.prior, inputs, targets, mask)

        @tf.function(input_signature=spec + [tf.TensorSpec([None], tf.float32)] * 2)
        def train_step(inputs, targets, mask, prior_lp, scores):
            variables = self.agent.trainable_variables
            with tf.GradientTape() as tape:
                agent_lp = log_likelihood(self.agent, inputs, targets, mask)
                loss = tf.reduce_mean(tf.square(prior_lp + config.sigma * scores - agent_lp))
                if config.likelihood_penalty:
                    loss += config.likelihood_penalty * tf.reduce_mean(-1.0 / agent_lp)
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return loss

        self.prior_logp, self.train_step = prior_logp, train_step

    def prior_log_likelihoods(self, seqs) -> np.ndarray:
        """float32 [N]: log p_prior of each sequence (its tokens after the first)."""
        return self.prior_logp(*pad(seqs)).numpy()

    def update(self, seqs, prior_lp, scores) -> float:
        """One Adam step of the agent on the augmented-likelihood loss; returns the loss."""
        inputs, targets, mask = pad(seqs)
        return float(self.train_step(inputs, targets, mask, np.asarray(prior_lp, np.float32),
                                     np.asarray(scores, np.float32)))


def optimise(oracle, prior_path: str, seed: int, config: DapConfig, timer=None) -> dict:
    """Runs DAP until ``oracle.finished`` or the early stop (see the module docstring).

    Args:
      oracle: a :class:`molecules.oracle.BudgetedOracle`.
      prior_path: a SMILES-RNN checkpoint with an atom-level vocabulary (a ``<bos>`` token).
      seed: seeds the sampling and the replay draws.
      config: a :class:`DapConfig`.
      timer: optional ``{"sampling", "scoring", "learning"}`` dict the seconds are added to.

    Returns:
      ``{"steps": updates made, "stopped_early": bool}``.

    Raises:
      FileNotFoundError, ValueError: a missing or unsuitable prior.
    """
    import time  # pylint: disable=import-outside-toplevel
    from molecules import prior as prior_lib  # pylint: disable=import-outside-toplevel  (TensorFlow)
    from molecules.oracle import EarlyStop  # pylint: disable=import-outside-toplevel
    from rl_tuner.models import sampling  # pylint: disable=import-outside-toplevel
    prior, tokenizer = prior_lib.load_with_begin(prior_path, "dap")
    learner, memory = Learner(prior, config), Experience(config.experience_size)
    rng = np.random.default_rng(seed)
    timer = timer if timer is not None else {}
    steps, stop = 0, EarlyStop(oracle, config.patience)
    while not oracle.finished:
        stop.before()
        t0 = time.perf_counter()
        tokens = sampling.sample_model(learner.agent, config.batch_size, config.max_length + 1, 1.0,
                                 int(rng.integers(2 ** 31)), primer=[tokenizer.begin_id],
                                 never_sampled=[tokenizer.begin_id])
        seqs = sequences(tokens, tokenizer.end_id)
        smiles = [tokenizer.decode(s[1:]) for s in seqs]
        t1 = time.perf_counter()
        scores = oracle.score_batch(smiles)
        t2 = time.perf_counter()
        add_seconds(timer, sampling=t1 - t0, scoring=t2 - t1)
        if oracle.finished:
            break
        if stop.after():
            break
        prior_lp = learner.prior_log_likelihoods(seqs)
        batch = list(zip(smiles, scores, prior_lp, seqs))
        replay = memory.sample(config.experience_replay, rng) \
            if config.experience_replay and len(memory) > config.experience_replay else []
        learner.update([b[3] for b in batch + replay], [b[2] for b in batch + replay],
                       [b[1] for b in batch + replay])
        memory.add(batch)
        steps += 1
        add_seconds(timer, learning=time.perf_counter() - t2)
    return {"steps": steps, "stopped_early": stop.reason is not None}


def add_seconds(timer: dict, **seconds) -> None:
    """Adds each ``name=seconds`` to ``timer[name]`` (a run's cost split)."""
    for key, value in seconds.items():
        timer[key] = timer.get(key, 0.0) + value
