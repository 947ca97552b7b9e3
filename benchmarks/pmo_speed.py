"""Time of one PMO run (``molecules benchmark --task TASK --budget N``) and its split per oracle call.

Runs the optimiser (default ``--algorithm dap``, REINVENT's method with PMO's settings;
``--algorithm sequence_tutor``, Sequence Tutor with its preset) on one task into a temporary directory and reports the wall time, the per-call cost of sampling,
scoring (the objective, RDKit) and learning (likelihoods and the update), the machine's load,
and a JSON object as the last line:

    python benchmarks/pmo_speed.py --task qed --budget 10000 [--seed 0] [--algorithm sequence_tutor]

The issue's target: a 10,000-call run in at most 3 minutes (median) on 2 idle cores.
"""

import argparse
import json
import os
import tempfile
import time

import _common  # noqa: F401  (import path, Keras 2)

from molecules import benchmark  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="qed")
    parser.add_argument("--budget", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--algorithm", default="dap")
    parser.add_argument("--prior", default=None, help="default: the shipped checkpoints/smiles_rnn")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        record = benchmark.run_one(args.task, args.seed, os.path.join(tmp, "run"), args.budget, args.algorithm,
                                   prior=args.prior, log=(lambda line: None) if args.quiet else print)
    total = time.perf_counter() - t0
    calls = record["oracle_calls"]
    seconds = record["seconds"]
    per_call_ms = {k: 1000 * v / max(calls, 1) for k, v in seconds.items()}
    print(f"{args.algorithm} on {args.task}, budget {args.budget}: {calls} calls in {record['wall_s']:.1f} s "
          f"({total:.1f} s with start-up), {record.get('steps', 0)} steps, auc_top10 {record['auc_top10']:.4f}; "
          "per call " + ", ".join(f"{k} {v:.2f} ms" for k, v in per_call_ms.items())
          + f"; load {load_before:.2f} -> {os.getloadavg()[0]:.2f}")
    print(json.dumps({"benchmark": "pmo_speed", "task": args.task, "algorithm": args.algorithm,
                      "budget": args.budget, "seed": args.seed, "oracle_calls": calls, "steps": record.get("steps"),
                      "updates": record.get("updates"),
                      "stopped_early": record.get("stopped_early"), "auc_top10": record["auc_top10"],
                      "wall_s": record["wall_s"], "total_s": total, "seconds": seconds,
                      "per_call_ms": per_call_ms, "load_before": load_before, "load_after": os.getloadavg()[0],
                      "cpus": os.cpu_count()}))


if __name__ == "__main__":
    main()
