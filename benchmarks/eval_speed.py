"""Time to evaluate N melodies: sampling with log p / KL per note, Table-1 statistics, r_MT.

    python benchmarks/eval_speed.py --num-melodies 100000 [--model RUN_DIR]

The last line is a JSON object with the timings.
"""

import argparse
import json
import time

import _common

from rl_tuner.runner import evaluate, policy  # noqa: E402
from rl_tuner import tasks  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-melodies", type=int, default=100_000)
    parser.add_argument("--model", default=None, help="run dir or Note-RNN checkpoint (default: shipped Note-RNN)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    pol = policy.load_policy(args.model or _common.note_rnn_checkpoint(None))
    evaluate.evaluate_policy(pol, 1000, seed=args.seed)  # warm-up: traces the sampler
    t0 = time.perf_counter()
    samples = evaluate.sample_policy(pol, args.num_melodies, 32, 1.0, args.seed)
    t1 = time.perf_counter()
    result = evaluate.measure(samples, tasks.get_task("melody"))
    t2 = time.perf_counter()
    print(f"{args.num_melodies} melodies ({pol.algorithm}): sampling with log p/KL {t1 - t0:.2f} s, "
          f"Table-1 statistics + r_MT {t2 - t1:.2f} s, total {t2 - t0:.2f} s")
    print(json.dumps({"num_melodies": args.num_melodies, "algorithm": pol.algorithm,
                      "sampling_seconds": round(t1 - t0, 3), "scoring_seconds": round(t2 - t1, 3),
                      "total_seconds": round(t2 - t0, 3),
                      "notes_not_in_key": result["notes_not_in_key"], "mean_log_prior": result["mean_log_prior"]}))


if __name__ == "__main__":
    main()
