"""Throughput of the data-preparation commands: the default path vs Apache Beam's DirectRunner.

Runs ``molecules prepare`` and ``molecules score`` on the first ``--molecules`` SMILES of a
prepared data set's train split (or generated ones), and ``note-rnn prepare`` on ``--midi``
generated MIDI files, each with the default path (``--workers``) and with ``--runner
DirectRunner`` on 1 worker (in memory) and on 2 worker processes (multi_processing). Needs
the ``beam`` extra (BUILD.md). Prints one line per run and a JSON object as the last line:

    python benchmarks/beam_prepare_speed.py [--molecules 2000] [--score 500] [--midi 40] [--data data/moses]

The wall times include Beam's start-up (pipeline construction, worker processes), which
dominates on small inputs; per-item costs for projections come from the default path.
"""

import argparse
import contextlib
import io
import json
import os
import shutil
import tempfile
import time

import numpy as np

import _common  # noqa: F401  (import path, Keras 2)

from molecules import cli as molecules_cli, data  # noqa: E402
from note_rnn import cli as note_rnn_cli, encoding  # noqa: E402

BEAM_1 = ["--runner", "DirectRunner", "--direct_num_workers", "1"]
BEAM_2 = ["--runner", "DirectRunner", "--direct_num_workers", "2", "--direct_running_mode", "multi_processing"]
FALLBACK_SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "Clc1ccccc1", "CC(C)Cc1ccc(C)cc1"]


def _timed(main, argv):
    with contextlib.redirect_stdout(io.StringIO()):
        t0 = time.perf_counter()
        assert main(argv) == 0
        return time.perf_counter() - t0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--molecules", type=int, default=2000, help="SMILES lines for `molecules prepare`")
    parser.add_argument("--score", type=int, default=500, help="SMILES lines for `molecules score`")
    parser.add_argument("--midi", type=int, default=40, help="generated MIDI files for `note-rnn prepare`")
    parser.add_argument("--data", default=os.path.join(_common.ROOT, "data", "moses"),
                        help="prepared data set whose train split is read (else a few SMILES repeated)")
    parser.add_argument("--workers", type=int, default=2, help="processes of the default path")
    args = parser.parse_args()
    os.environ["PYTHONPATH"] = _common.ROOT  # Beam's worker processes import this checkout
    tmp = tempfile.mkdtemp(prefix="beam_bench_")
    try:
        if os.path.isfile(os.path.join(args.data, "train.smi.gz")):
            smiles = data.load_split(args.data, "train")[:max(args.molecules, args.score)]
        else:
            smiles = (FALLBACK_SMILES * (max(args.molecules, args.score) // len(FALLBACK_SMILES) + 1))
        with open(os.path.join(tmp, "prepare.smi"), "w") as f:
            f.write("\n".join(smiles[:args.molecules]) + "\n")
        with open(os.path.join(tmp, "score.smi"), "w") as f:
            f.write("\n".join(smiles[:args.score]) + "\n")
        midi = os.path.join(tmp, "midi")
        os.makedirs(midi)
        rng = np.random.default_rng(0)
        for i in range(args.midi):
            tokens = [x for t in rng.choice([14, 16, 18, 19, 21, 23, 25, 26], size=64).tolist() for x in (t, 0)]
            encoding.write_midi(tokens, os.path.join(midi, f"tune{i}.mid"))

        result = {"molecules_prepare": {}, "molecules_score": {}, "note_rnn_prepare": {}}
        runs = (("default", ["--workers", str(args.workers)]), ("beam_direct_1", BEAM_1), ("beam_direct_2", BEAM_2))
        for name, extra in runs:
            seconds = _timed(molecules_cli.main, ["prepare", "--source", os.path.join(tmp, "prepare.smi"), "--out",
                                                  os.path.join(tmp, f"mp_{name}"), "--no-progress"] + extra)
            result["molecules_prepare"][name] = {"seconds": round(seconds, 2),
                                                 "per_second": round(args.molecules / seconds, 1)}
            score_extra = [] if name == "default" else extra
            seconds = _timed(molecules_cli.main, ["score", "--smiles", os.path.join(tmp, "score.smi"), "--out",
                                                  os.path.join(tmp, f"ms_{name}.json")] + score_extra)
            result["molecules_score"][name] = {"seconds": round(seconds, 2),
                                               "per_second": round(args.score / seconds, 1)}
            seconds = _timed(note_rnn_cli.main, ["prepare", "--source", midi, "--out", os.path.join(tmp, f"np_{name}"),
                                                 "--no-progress", "--validation-fraction", "0.1"] + extra)
            result["note_rnn_prepare"][name] = {"seconds": round(seconds, 2),
                                                "per_second": round(args.midi / seconds, 2)}
            print(name, {k: v[name] for k, v in result.items()}, flush=True)
        same = (json.load(open(os.path.join(tmp, "ms_default.json"))) ==
                json.load(open(os.path.join(tmp, "ms_beam_direct_2.json"))))
        result.update(molecules=args.molecules, scored=args.score, midi_files=args.midi, default_workers=args.workers,
                      score_output_identical=same, cpus=os.cpu_count(), load_average=os.getloadavg()[0])
        print(json.dumps(result))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
