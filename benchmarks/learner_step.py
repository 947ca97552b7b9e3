"""Time of one learner train step in isolation (the compiled K-step learner call).

Builds the paper's learner (1 x 100 LSTM, 38 tokens, batch 32, replay of 100,000 random
transitions) and times ``learner.train(K)`` calls, K = 51 as in training (256 environment
steps per call / 5). Reports wall and process CPU time per train step; CPU time is the
less noisy figure on a shared machine (one intra-op thread). ``--repo`` imports the
packages from another checkout, for A/B comparisons of old and new code under the same
load:

    python benchmarks/learner_step.py --algorithm psi
    python benchmarks/learner_step.py --repo /path/to/other/checkout
"""

import argparse
import json
import os
import sys
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algorithm", default="psi", choices=["q", "psi", "g", "pure_rl"])
    parser.add_argument("--steps-per-call", type=int, default=51)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds of --calls calls (best is reported)")
    parser.add_argument("--repo", default=None, help="import rl_tuner/note_rnn from this checkout")
    args = parser.parse_args()
    root = os.path.abspath(args.repo) if args.repo else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, root)

    import numpy as np
    import note_rnn  # noqa: F401  (selects Keras 2 before TensorFlow)
    from rl_tuner.models import sequence_model as model_lib
    from rl_tuner.kl_control import agent, networks, replay, targets
    from rl_tuner.runner import train
    import tensorflow as tf

    train.set_intra_op_threads(1)
    tf.keras.utils.set_random_seed(0)
    pretrained = model_lib.build(model_lib.SequenceRNNConfig(num_classes=38), seed=0)
    q_network = networks.q_network_from(pretrained)
    target_network = agent.build_target_network(q_network)
    spec = agent.transition_spec((100,), 38)
    memory = replay.UniformReplay(spec, 100_000, seed=1)
    learner = agent.KLControlLearner(q_network, target_network, targets.get_algorithm(args.algorithm), memory,
                                     agent.LearnerConfig())
    rng = np.random.default_rng(0)
    for _ in range(10):
        n = 10_000
        batch = tf.nest.map_structure(
            lambda s: tf.constant(rng.integers(0, 38, size=[n] + s.shape.as_list()).astype(np.int32)
                                  if s.dtype == tf.int32 else
                                  rng.normal(scale=0.5, size=[n] + s.shape.as_list()).astype(np.float32)), spec)
        memory.add(batch)
    k = tf.constant(args.steps_per_call)
    for _ in range(5):
        learner.train(k)
    best_wall = best_cpu = float("inf")
    for _ in range(args.repeats):
        w, c = time.perf_counter(), time.process_time()
        for _ in range(args.calls):
            loss, _ = learner.train(k)
        float(loss)
        n = args.calls * args.steps_per_call
        best_wall = min(best_wall, (time.perf_counter() - w) / n)
        best_cpu = min(best_cpu, (time.process_time() - c) / n)
    print(json.dumps({"repo": root, "algorithm": args.algorithm, "ms_per_train_step_wall": round(1e3 * best_wall, 4),
                      "ms_per_train_step_cpu": round(1e3 * best_cpu, 4)}))


if __name__ == "__main__":
    main()
