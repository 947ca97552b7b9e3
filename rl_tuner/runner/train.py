"""The RL Tuner training loop (``rl-tuner train``): batched acting, in-graph learning.

The loop is domain-free: the run's task (:mod:`rl_tuner.tasks`, named in config.json) loads
the prior, makes the batched environment, measures sampled sequences and writes samples.

One iteration advances ``num_envs`` episodes by one token (one compiled actor call),
scores them with the environment's task reward (vectorised NumPy), then adds the
transitions to replay and runs as many train steps as keep the ratio of one train step
per ``train_every`` environment steps (one compiled learner call).

Run directory::

    config.json           the run's RLConfig
    .sequence-tutor.json  manifest: the command, the prior's resolved path and fingerprint
    .lock                 held (flock) by the process training the run
    events.out.tfevents*  TensorBoard: config, scalars, the task's samples (melodies: audio and
                          next-note images)
    ckpt/                 training state (networks, optimiser, replay, counters); rerun the
                          same command to resume from the last evaluation
    policy/               the latest tuned policy (q_network/, prior/, policy.json)
    history.json          evaluations and training tallies so far
    samples/              the task's samples at each evaluation (melodies: MIDI and WAV)
    stats.json            final statistics before (the prior) and after tuning (melodies: Table 1)
    ...                   the task's end-of-run files (melodies: training_curves.png, the
                          paper's Figure 2, and next_note_probabilities.png, Figure 4)
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time

import numpy as np

from rl_tuner import _tf  # noqa: F401
import tensorflow as tf  # noqa: E402

from rl_tuner.plumbing import atomic, checkpoint, runs  # noqa: E402
from rl_tuner import tasks  # noqa: E402
from rl_tuner.kl_control import actor as actor_lib  # noqa: E402
from rl_tuner.kl_control import agent, environment, episodes, exploration, networks, replay  # noqa: E402
from rl_tuner.kl_control import sequence_learner, targets  # noqa: E402
from rl_tuner.kl_control import transitions as transitions_lib  # noqa: E402
from rl_tuner.kl_control import value_offset  # noqa: E402
from rl_tuner.runner import evaluate, hparams, policy  # noqa: E402
from rl_tuner.runner.config import RLConfig  # noqa: E402
# The command, the settings that may change between sessions, and what a finished run shows,
# shared with the checks the command makes before TensorFlow loads:
from rl_tuner.runner.train_precheck import COMMAND, RESUMABLE, complete_line, finished_results  # noqa: E402,F401

# Scalars of every run under train/ (besides the environment's monitors and reward_{component}).
TRAIN_SCALARS = ("loss", "target_value", "epsilon", "reward", "task_reward", "log_prior", "kl", "entropy", "max_value")


class RunState:
    """Networks, learner and actor of a run, restored from its checkpoint if there is one."""

    def __init__(self, config: RLConfig, out_dir: str):
        self.config = config
        self.task = tasks.get_task(config.task)
        tf.keras.utils.set_random_seed(config.seed)
        pretrained = self.task.load_prior(config.prior)
        self.prior_fingerprint = runs.fingerprint_weights(pretrained.get_named_weights())
        self.algorithm = targets.get_algorithm(config.algorithm)
        self.prior = networks.Prior(pretrained)
        self.q_network = networks.q_network_from(pretrained)
        self.log_partition_offset = 0.0  # before the target copy; a resumed run's checkpoint overwrites both
        if config.head_init == "centered":
            self.log_partition_offset = networks.mean_log_partition(
                pretrained, self.task.first_tokens(), length=config.max_length, seed=config.seed + 3,
                end_token=self.task.end_token)
            networks.center_values(self.q_network, self.log_partition_offset)
        elif config.head_init == "zero":
            networks.zero_head(self.q_network)
        self.target_network = agent.build_target_network(self.q_network)
        self.replay, self.learner = make_learner(config, self.task, pretrained, self.algorithm, self.q_network,
                                                 self.target_network)
        self.actor = actor_lib.Actor(self.q_network, self.prior, self.algorithm, config.exploration,
                                     seed=config.seed + 2, actions=self.task.exploration_actions())
        self.env_steps = tf.Variable(0, dtype=tf.int64, name="env_steps")
        saved = dict(q_network=self.q_network, target_network=self.target_network, optimizer=self.learner.optimizer,
                     train_steps=self.learner.train_steps, actor_rng=self.actor.rng, env_steps=self.env_steps)
        # The replay's buffers, priorities, running max priority and sampling generator: without
        # them a resumed run starts with an empty replay (an approximate resume, see start_line).
        if config.save_replay:
            saved["replay"] = self.replay
        self.ckpt = tf.train.Checkpoint(**saved)
        self.manager = tf.train.CheckpointManager(self.ckpt, os.path.join(out_dir, "ckpt"), max_to_keep=1)
        self._policy = None

    def restore(self) -> bool:
        checkpoint.remove_interrupted_saves(self.manager.directory)  # run() holds the run's lock
        if self.manager.latest_checkpoint is None:
            return False
        checkpoint.restore_training_state(self.ckpt, self.manager.latest_checkpoint)
        return True

    def policy(self) -> policy.Policy:
        """The current tuned policy (one object, so its compiled sampler is traced once)."""
        if self._policy is None:
            self._policy = policy.Policy(self.prior.rnn, self.q_network.rnn, self.algorithm.name)
        return self._policy


def make_learner(config: RLConfig, task, pretrained, algorithm, q_network, target_network):
    """The run's replay memory and learner (``config.learner``): (replay, learner).

    The transition learner's replay holds ``replay_capacity`` transitions
    (:func:`rl_tuner.kl_control.agent.transition_spec`); the sequence learner's ``replay_capacity //
    max_length`` episodes (:func:`rl_tuner.kl_control.episodes.episode_spec`).
    """
    if config.learner in ("sequence", "path"):
        features = feature_size(config, pretrained)
        spec = episodes.episode_spec(config.max_length, pretrained.config.num_classes,
                                     next_log_prior=algorithm.uses_next_log_prior,
                                     end_transitions=config.end_transitions > 0, feature_size=features)
        memory = replay.make_replay("uniform", spec, config.replay_capacity // config.max_length, seed=config.seed + 1)
        end_token = -1 if task.end_token is None else task.end_token
        return memory, sequence_learner.SequenceLearner(
            q_network, target_network, algorithm, memory,
            sequence_learner.SequenceLearnerConfig(
                discount=config.discount, learning_rate=config.learning_rate, clip_norm=config.clip_norm,
                target_update_rate=config.target_update_rate, batch_size=config.batch_size,
                td_lambda=config.td_lambda, end_token=end_token, path_consistency=config.learner == "path",
                train_head_only=config.train_head_only, store_features=features > 0))
    spec = agent.transition_spec(pretrained.config.layer_sizes, pretrained.config.num_classes,
                                 next_log_prior=algorithm.uses_next_log_prior,
                                 next_state=config.store_next_state, state_spec=pretrained.state_spec())
    memory = replay.make_replay(config.replay, spec, config.replay_capacity, seed=config.seed + 1)
    return memory, agent.KLControlLearner(
        q_network, target_network, algorithm, memory,
        agent.LearnerConfig(discount=config.discount, learning_rate=config.learning_rate,
                            clip_norm=config.clip_norm, target_update_rate=config.target_update_rate,
                            batch_size=config.batch_size, new_priority=config.new_priority, double=config.double))


def feature_size(config: RLConfig, pretrained) -> int:
    """U of the features the sequence learner stores (its top LSTM layer's units), or 0.

    Stored only when the LSTM never changes (``train_head_only``), the model's output layer reads
    the top LSTM's output (no attention layer), and no episode bootstraps after its last action
    (``bootstrap_final_step`` off).
    """
    if not config.train_head_only or config.bootstrap_final_step or pretrained.config.attention_length:
        return 0
    return int(pretrained.config.layer_sizes[-1])


class Tally:
    """Running means of per-step quantities between two log points."""

    def __init__(self):
        self.sums, self.counts = {}, {}

    def add(self, name: str, value, count: int = 1):
        self.sums[name] = self.sums.get(name, 0.0) + float(value) * count
        self.counts[name] = self.counts.get(name, 0) + count

    def means(self) -> dict:
        out = {k: self.sums[k] / max(self.counts[k], 1) for k in self.sums}
        self.sums, self.counts = {}, {}
        return out


def set_intra_op_threads(num_threads: int) -> bool:
    """Limits TensorFlow's per-op thread pool (call before any TensorFlow op runs).

    The RL networks are tiny, so a train step is dominated by per-op overhead; running each
    op on one thread avoids thread-pool hand-offs and makes training about 20% faster on
    2 cores (see BUILD.md). Returns False (and changes nothing) once TensorFlow has started.
    """
    if num_threads <= 0:
        return False
    try:
        tf.config.threading.set_intra_op_parallelism_threads(num_threads)
        return True
    except RuntimeError:
        return tf.config.threading.get_intra_op_parallelism_threads() == num_threads


def make_environment(config: RLConfig):
    """The batched environment of a run (made by its task, see :mod:`rl_tuner.kl_control.environment`)."""
    return tasks.get_task(config.task).make_environment(config)


def run(config: RLConfig, out_dir: str, progress: bool = True, log=print) -> dict:
    """Trains (or resumes) a run and returns the final statistics (also in stats.json).

    The run directory is locked while training (see :mod:`rl_tuner.plumbing.runs`); its config is
    written once the prior has loaded. Resuming needs the same settings except
    ``RESUMABLE``; the prior counts as the same if its weights are (wherever it lives now).

    Raises:
      ValueError: for invalid settings, a directory that is not this kind of run, a run
        with different settings, or a run another process is training.
      FloatingPointError: if the TD loss becomes NaN (the last checkpoint is kept).
    """
    config.validate()
    if config.end_transitions > 0 and not environment.supports_end_rewards(make_environment(config)):
        raise ValueError(f"end_transitions needs an environment that reports end rewards; the {config.task} "
                         "task's does not")  # before the run directory is made
    with runs.run_directory(out_dir, COMMAND) as run_dir:
        state = RunState(config, out_dir)
        run_dir.start("config.json", config, may_change=RESUMABLE, inputs={"prior": state.prior_fingerprint})
        return _train(state, config, out_dir, progress, log)


def _train(state: RunState, config: RLConfig, out_dir: str, progress: bool, log) -> dict:
    from tqdm import tqdm

    resumed = state.restore()
    history_path = os.path.join(out_dir, "history.json")
    history = atomic.read_json(history_path) if resumed else None
    history = history or {"evaluations": [], "train": []}
    writer = tf.summary.create_file_writer(out_dir)
    task = state.task
    env = task.make_environment(config)
    if not resumed and config.value_offset == "prior_return":  # a resumed run's checkpoint holds its values
        offset = value_offset.prior_return(state.prior, env, config)
        for net in (state.q_network, state.target_network):
            networks.shift_values(net, offset)
        history["value_offset"] = offset
        log(f"Initial values shifted by {offset:+.4g} nats, the prior's mean return under the algorithm's reward "
            f"(--value-offset prior_return)")

    if "before" not in history:
        log(f"Evaluating the prior (before tuning) on {config.final_eval_samples} {task.nouns[1]} ...")
        history["before"] = evaluate.evaluate_policy(policy.Policy(state.prior.rnn), config.final_eval_samples,
                                                     config.max_length, seed=config.seed + 7, task=task)
        with writer.as_default():
            tf.summary.text("config", "```\n" + json.dumps(dataclasses.asdict(config), indent=1) + "\n```", step=0)
        atomic.write_json(history_path, history)
    step = int(state.env_steps.numpy())
    # history.json is written just before each checkpoint: drop what a kill in between left.
    for key in ("evaluations", "train"):
        history[key] = [entry for entry in history[key] if entry["step"] <= step]
    episode_steps = config.num_envs * config.max_length
    final_step = final_step_of(step, config.steps, episode_steps)
    if resumed and step >= config.steps:
        done = finished_results(out_dir, step, config.final_eval_samples)
        if done is not None:
            log(complete_line(config.algorithm, out_dir, step, config.steps))
            return done
    log(start_line(config, step, final_step, resumed, task.nouns))

    tally = Tally()
    next_eval = (step // config.eval_every + 1) * config.eval_every
    show_bar = progress and sys.stderr.isatty()
    bar = tqdm(total=final_step, initial=step, unit="step", unit_scale=True, disable=not show_bar,
               file=sys.stderr, desc=f"rl-tuner {config.algorithm}")
    t_start, steps_at_start = time.time(), step
    if not resumed:
        _evaluate_and_checkpoint(state, config, out_dir, writer, history, step, tally)
    while step < config.steps:
        step = _play_episodes(state, env, config, step, tally)
        bar.update(episode_steps)
        if step >= next_eval or step >= config.steps:
            means = tally.means()
            means["env_steps_per_s"] = (step - steps_at_start) / max(time.time() - t_start, 1e-9)
            _write_scalars(writer, "train", means, step)
            history["train"].append({"step": step, **means})
            _evaluate_and_checkpoint(state, config, out_dir, writer, history, step, tally)
            latest = history["evaluations"][-1]
            bar.set_postfix({**{label.lower(): f"{latest[key]:.2f}" for key, label in task.headline},
                             "log_p": f"{latest['mean_log_prior']:.2f}"})
            if not show_bar:
                log(progress_line(step, final_step, latest, means, task.headline, task.nouns[2]))
            next_eval = (step // config.eval_every + 1) * config.eval_every
    bar.close()
    return _finish(state, config, out_dir, writer, history)


def final_step_of(step: int, steps: int, episode_steps: int) -> int:
    """The step count a run starting at ``step`` really ends at (>= ``steps``).

    Training advances in whole batches of ``episode_steps`` = num_envs x max_length, so
    ``steps`` is rounded up to the next batch boundary (a run already past it stays).
    """
    if step >= steps:
        return step
    return step + -(-(steps - step) // episode_steps) * episode_steps


def start_line(config: RLConfig, step: int, final_step: int, resumed: bool,
               nouns=tasks.Task.nouns) -> str:
    """The line printed when a run starts or resumes (the reward mode really used included;
    a resume without a saved replay says that it is approximate).

    ``nouns`` are the task's (one sequence, sequences, one token, tokens), see
    :attr:`rl_tuner.tasks.Task.nouns`.
    """
    rounded = f" (--steps {config.steps} rounded up to whole batches of {config.num_envs} {nouns[1]} x " \
              f"{config.max_length} {nouns[3]})" if final_step != config.steps and step < config.steps else ""
    reward = f" ({config.reward_mode} reward)" if config.reward_mode else ""
    approximate = ("; the replay was not saved (--no-save-replay), so it starts empty and the run will not be "
                   "identical to an uninterrupted one") if resumed and not config.save_replay else ""
    return (f"{'Resuming' if resumed else 'Starting'} {config.algorithm}{reward} at step {step} "
            f"of {final_step}{rounded}, {config.num_envs} {nouns[1]} in parallel{approximate}")


def progress_line(step: int, final_step: int, evaluation: dict, train_means: dict,
                  headline=(), unit: str = "token") -> str:
    """One line per evaluation: step, headline statistics of the sampled sequences, speed.

    Args:
      step: environment steps so far.
      final_step: the step the run ends at.
      evaluation: an :func:`rl_tuner.runner.evaluate.evaluate_policy` result (the headline
        statistics, mean_log_prior and mean_kl per token).
      train_means: the training tallies since the last evaluation (loss, env_steps_per_s).
      headline: the task's ((statistic key, label), ...) (:attr:`rl_tuner.tasks.Task.headline`).
      unit: the task's name of one token ("note" for melodies).
    """
    loss = train_means.get("loss", float("nan"))
    figures = "".join(f"{label} {evaluation[key]:.3f}, " for key, label in headline)
    return (f"step {step}/{final_step}: {figures}"
            f"log p {evaluation['mean_log_prior']:.3f}, KL {evaluation['mean_kl']:.3f} per {unit}; "
            f"TD loss {loss:.4g}; {train_means.get('env_steps_per_s', float('nan')):.0f} env steps/s")


def _play_episodes(state: RunState, env, config: RLConfig, step: int, tally: Tally) -> int:
    """Plays one rollout of ``max_length`` steps in every environment, with learning; returns
    the new step count.

    Every environment starts a new episode at the rollout's start. An episode that ends
    earlier (tf-agents' LAST step) is followed at the next step by a new one in that
    environment only (FIRST: a new priming token from ``env.reset(rng, mask)``, the Q-network's
    and the prior's LSTM state reset to zero), while the others go on; an episode still
    running when the rollout ends is truncated (its last transition bootstraps). Fixed-length
    melodies end exactly at the rollout's end, so for them this is one batch of complete
    episodes. Per-episode quantities (``StepResult.episode_metrics``) are averaged over the
    episodes that finished.

    With a sequence learner (``config.learner`` 'sequence' or 'path') nothing is learned during
    the rollout: its steps are kept, cut into episodes at its end
    (:func:`rl_tuner.kl_control.episodes.split_rollout`, complete episodes only), stored whole, and then the
    rollout's share of train steps (one per ``train_every`` env steps) runs.
    """
    rng = np.random.default_rng([config.seed, step])
    obs = tf.constant(env.reset(rng))
    q_state, log_prior, prior_state = state.actor.start(obs)
    explore_steps = config.exploration_steps
    num_end = int(round(config.end_transitions * env.num_envs))
    sequences = config.learner in ("sequence", "path")
    rollout = {key: [] for key in ("obs", "action", "reward", "done", "ended")} if sequences else None
    start_step = step
    for t in range(config.max_length):
        epsilon = exploration.linear_epsilon(step, explore_steps, config.epsilon_start, config.epsilon_end)
        out = state.actor.act(obs, q_state, log_prior, prior_state, tf.constant(epsilon))
        action = out["action"].numpy()
        if num_end:  # before the step: the end token's reward in the state the action was chosen in
            end_rows = np.sort(rng.choice(env.num_envs, size=num_end, replace=False))
            end_task_reward = env.end_rewards(end_rows)
        result = env.step(action)
        transitions, log_p_a = transitions_lib.step_transitions(
            state.algorithm, obs=obs, state=q_state, action=out["action"], log_prior=log_prior,
            next_state=out["next_q_state"], next_log_prior=out["next_log_prior"], task_reward=result.task_reward,
            done=result.done, c=config.c, adds_log_prior=env.adds_log_prior,
            bootstrap_final_step=config.bootstrap_final_step)
        reward = transitions["reward"]
        if num_end:
            end_reward = transitions_lib.end_rewards(state.algorithm, end_task_reward, log_prior, end_rows,
                                                     state.task.end_token, config.c, env.adds_log_prior)
            tally.add("end_transition_reward", float(end_reward.mean()), num_end)
        new_step = step + env.num_envs
        if sequences:
            if "features" in state.replay.spec:  # the top LSTM layer's output after obs
                transitions["features"] = out["next_q_state"][len(state.q_network.rnn.lstm_layers) - 1][0]
            episodes.record_step(rollout, transitions, np.asarray(result.done, bool),
                         (end_rows, end_reward) if num_end else None, env.num_envs, state.replay.spec)
        else:
            if num_end:
                transitions = transitions_lib.with_end_transitions(transitions, end_rows, state.task.end_token,
                                                                   end_reward)
            num_train = new_step // config.train_every - step // config.train_every
            loss, target_value = state.learner.add_and_train(transitions, tf.constant(num_train))
            if num_train:
                tally.add("loss", loss, num_train)
                tally.add("target_value", target_value, num_train)
        _tally_step(tally, epsilon, reward, log_p_a, result, out["means"].numpy(), env.num_envs)
        finished = np.asarray(result.done, bool)
        obs, q_state, log_prior, prior_state = out["action"], out["next_q_state"], out["next_log_prior"], \
            out["next_prior_state"]
        if finished.any() and t + 1 < config.max_length:  # new episodes where one ended (not for melodies)
            first = env.reset(rng, mask=finished)
            obs = tf.where(finished, tf.constant(first, tf.int32), obs)
            q_state, log_prior, prior_state = _restart(state.actor, finished, obs, q_state, log_prior, prior_state)
        step = new_step
    if sequences:  # the whole rollout's episodes, then its share of train steps
        _train_on_rollout(state, rollout, step // config.train_every - start_step // config.train_every, tally)
    state.env_steps.assign(step)
    loss_mean = tally.sums.get("loss", 0.0) / max(tally.counts.get("loss", 1), 1)
    if not math.isfinite(loss_mean):
        raise FloatingPointError(f"the TD loss became {loss_mean} near step {step}; the last checkpoint "
                                 f"({state.manager.latest_checkpoint}) is kept. Try a smaller --learning-rate or larger --c.")
    return step


def _train_on_rollout(state: RunState, rollout: dict, num_train: int, tally: Tally) -> None:
    """Stores a rollout's complete episodes (:func:`rl_tuner.kl_control.episodes.split_rollout`) in the
    sequence learner's replay, then runs ``num_train`` train steps."""
    batch = episodes.split_rollout({key: np.stack(value, axis=1) for key, value in rollout.items()},
                                   np.stack(rollout["ended"], axis=1), complete_only=True)
    loss, target_value = state.learner.add_and_train(batch, num_train)
    if num_train:
        tally.add("loss", float(loss), num_train)
        tally.add("target_value", float(target_value), num_train)


def _tally_step(tally: Tally, epsilon: float, reward, log_p_a, result, means, n: int) -> None:
    """Adds one step of ``n`` episodes to the tallies: epsilon, the means of the stored reward,
    the task reward, log p(a|s), the environment's monitors and reward components, the policy's
    entropy, KL and largest value (``means``), and the per-episode metrics of the episodes that
    ended."""
    tally.add("epsilon", epsilon)
    tally.add("reward", reward.mean(), n)
    tally.add("task_reward", result.task_reward.mean(), n)
    tally.add("log_prior", log_p_a.mean(), n)
    for name, value in result.monitors.items():
        tally.add(name, np.mean(value), n)
    for name, value in result.components.items():
        tally.add(f"reward_{name}", np.mean(value), n)
    for key, value in zip(("entropy", "kl", "max_value"), means):
        tally.add(key, value, n)
    finished = np.asarray(result.done, bool)
    if finished.any():
        for name, value in result.episode_metrics.items():
            tally.add(name, np.asarray(value, np.float64)[finished].mean(), int(finished.sum()))


def _restart(actor, mask: np.ndarray, obs, q_state, log_prior, prior_state):
    """Zero LSTM states and the prior's log p after the new first token where ``mask`` is set."""
    zero_q, first_log_prior, first_prior_state = actor.start(obs)
    where = tf.constant(mask)

    def pick(new, old):
        return tf.where(tf.reshape(where, [-1] + [1] * (len(old.shape) - 1)), new, old)
    return (tf.nest.map_structure(pick, zero_q, q_state), pick(first_log_prior, log_prior),
            tf.nest.map_structure(pick, first_prior_state, prior_state))


def _evaluate_and_checkpoint(state, config, out_dir, writer, history, step, tally):
    pol = state.policy()
    result = evaluate.evaluate_policy(pol, config.eval_samples, config.max_length, seed=config.seed + 11,
                                      task=state.task)
    result["step"] = step
    history["evaluations"].append(result)
    _write_scalars(writer, "eval", {k: v for k, v in result.items()
                                    if k not in ("step", "num_melodies", "num_samples")}, step)
    if config.num_samples > 0:
        samples = evaluate.sample_policy(pol, config.num_samples, config.max_length, seed=config.seed + step,
                                  end_token=state.task.end_token, first_tokens=state.task.first_tokens(),
                                  never_sampled=state.task.never_sampled_tokens())
        samples_dir = os.path.join(out_dir, "samples", f"step_{step:08d}")
        with atomic.writing(samples_dir):
            state.task.write_samples(samples["tokens"], samples["lengths"], samples_dir, writer=writer, step=step,
                                     policy=pol, seed=config.seed + step)
    with atomic.writing(out_dir):  # TensorBoard's event file
        writer.flush()
    policy.save_policy(os.path.join(out_dir, "policy"), state.q_network.rnn, state.prior.rnn, config.algorithm,
                       card={"algorithm": config.algorithm, "step": step, "prior": config.prior}, task=config.task)
    atomic.write_json(os.path.join(out_dir, "history.json"), history)
    with atomic.writing(state.manager.directory):  # a full disk: "cannot write RUN/ckpt: No space left ..."
        state.manager.save(checkpoint_number=step)


def _finish(state, config, out_dir, writer, history) -> dict:
    stats_path = os.path.join(out_dir, "stats.json")
    after = evaluate.evaluate_policy(state.policy(), config.final_eval_samples, config.max_length,
                                     seed=config.seed + 7, task=state.task)
    final = {"algorithm": config.algorithm, "steps": int(state.env_steps.numpy()),
             "train_steps": int(state.learner.train_steps.numpy()), "before": history["before"], "after": after}
    hparams.write_hparams(writer, dataclasses.asdict(config), final)
    final["hparams_logged"] = True
    atomic.write_json(stats_path, final)
    with atomic.writing(out_dir):  # the task's figures, TensorBoard's event file
        state.task.finish(out_dir, history, state.policy(), config)
        writer.flush()
    return final


def _write_scalars(writer, prefix: str, values: dict, step: int) -> None:
    with writer.as_default():
        for key, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                tf.summary.scalar(f"{prefix}/{key}", value, step=step)
