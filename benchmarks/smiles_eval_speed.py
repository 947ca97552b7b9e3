"""Time of a Table-2 evaluation: sample N SMILES from a model and score them with RDKit.

The same work as ``molecules evaluate`` (without writing a file): sampling in compiled
TensorFlow chunks, then RDKit (parse, logP, QED, SA, ring measure, canonical SMILES, Morgan
fingerprint) in one spawned worker process per CPU, then the statistics. Prints the phases
and a JSON object as the last line:

    python benchmarks/smiles_eval_speed.py --num 100000 [--model checkpoints/smiles_rnn] [--data data/moses]
"""

import argparse
import json
import os
import time

import _common  # noqa: F401  (import path, Keras 2)

from molecules import data, evaluation, sampling  # noqa: E402
from rl_tuner.resources import shipped_checkpoint  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="default: the shipped checkpoints/smiles_rnn")
    parser.add_argument("--num", type=int, default=100_000)
    parser.add_argument("--data", default=None, help="data set for `novel` (loading it is timed separately)")
    parser.add_argument("--workers", type=int, default=0, help="RDKit processes (0: one per CPU)")
    args = parser.parse_args()
    model = args.model or shipped_checkpoint("molecules", "smiles_rnn")
    t0 = time.perf_counter()
    training = set(data.load_split(args.data, "train")) if args.data else None
    t1 = time.perf_counter()
    smiles, _, _, sampling_seconds = sampling.sample_smiles(model, args.num)
    t2 = time.perf_counter()
    records = evaluation.score_all(smiles, args.workers)
    t3 = time.perf_counter()
    stats = evaluation.statistics(smiles, training=training, records=records)
    t4 = time.perf_counter()
    print(f"{args.num} molecules from {model}: load data {t1 - t0:.1f} s, load model + sample {t2 - t1:.1f} s "
          f"(sampling {sampling_seconds:.1f} s), RDKit {t3 - t2:.1f} s, statistics {t4 - t3:.1f} s")
    print(json.dumps({"model": os.path.basename(os.path.normpath(model)), "num": args.num,
                      "sampling_s": round(sampling_seconds, 2), "rdkit_s": round(t3 - t2, 2),
                      "statistics_s": round(t4 - t3, 2), "total_s": round(t4 - t1, 2),
                      "valid": round(stats["valid"], 4), "workers": args.workers or os.cpu_count()}))


if __name__ == "__main__":
    main()
