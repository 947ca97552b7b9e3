"""Environment steps per second of RL Tuner training at the paper's settings.

Melodies (the default): one train step of batch 32 per 5 environment steps, gamma 0.5,
replay 100,000, egreedy, 1 x 100 LSTM, music_theory_all reward. Molecules (``--task smiles``):
the smiles task's paper preset (batch 512 per 50 steps, prioritized replay, RDKit reward,
the shipped checkpoints/smiles_rnn_paper). No evaluations. Prints a breakdown of where the
time goes, and a JSON object as the last line:

    python benchmarks/rl_throughput.py --algorithm psi --steps 200000
    python benchmarks/rl_throughput.py --task smiles --steps 200000
"""

import argparse
import json
import time

import _common

from rl_tuner.runner import config as config_lib  # noqa: E402
from rl_tuner.runner import train  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algorithm", default="psi", choices=["q", "psi", "g", "pure_rl"])
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--num-envs", type=int, default=None, help="parallel melodies (default: the preset's)")
    parser.add_argument("--task", default="melody", choices=["melody", "smiles"])
    parser.add_argument("--prior", "--note-rnn", dest="prior", default=None,
                        help="the prior (default: the task's shipped one)")
    parser.add_argument("--profile", action="store_true", help="time each phase (adds a little overhead)")
    parser.add_argument("--intra-op-threads", type=int, default=1, help="as rl-tuner train (0: TF default)")
    args = parser.parse_args()
    train.set_intra_op_threads(args.intra_op_threads)

    if args.task == "smiles":
        from rl_tuner.resources import shipped_checkpoint
        prior = args.prior or shipped_checkpoint("molecules", "smiles_rnn_paper")
    else:
        prior = _common.note_rnn_checkpoint(args.prior)
    cfg = config_lib.from_preset("paper", task=args.task, algorithm=args.algorithm, steps=args.steps,
                                 num_envs=args.num_envs, prior=prior)
    state = train.RunState(cfg, "/tmp/rl_tuner_bench_run")
    env = train.make_environment(cfg)
    totals = {}
    if args.profile:
        state.actor.act = _common.timed(state.actor.act, totals, "act")
        env.step = _common.timed(env.step, totals, "reward")
        state.learner.add_and_train = _common.timed(state.learner.add_and_train, totals, "store_and_train")
    # Warm-up: one batch of episodes traces the compiled functions.
    train._play_episodes(state, env, cfg, 0, train.Tally())
    totals.clear()
    steps0, train0 = int(state.env_steps.numpy()), int(state.learner.train_steps.numpy())
    step, tally = steps0, train.Tally()
    t0 = time.perf_counter()
    while step - steps0 < args.steps:
        step = train._play_episodes(state, env, cfg, step, tally)
    seconds = time.perf_counter() - t0
    env_steps = step - steps0
    train_steps = int(state.learner.train_steps.numpy()) - train0
    print(f"{cfg.algorithm}: {env_steps} environment steps and {train_steps} train steps in {seconds:.2f} s "
          f"({cfg.num_envs} episodes in parallel)")
    for key, value in totals.items():
        print(f"  {key:16s} {value:7.2f} s  {1e6 * value / env_steps:7.2f} us per env step")
    if totals:
        other = seconds - sum(totals.values())
        print(f"  {'loop/other':16s} {other:7.2f} s  {1e6 * other / env_steps:7.2f} us per env step")
    print(json.dumps({"task": cfg.task, "algorithm": cfg.algorithm, "env_steps": env_steps, "seconds": round(seconds, 3),
                      "env_steps_per_s": round(env_steps / seconds, 1), "train_steps": train_steps,
                      "num_envs": cfg.num_envs, "intra_op_threads": args.intra_op_threads}))


if __name__ == "__main__":
    main()
