"""Shared set-up of the benchmarks: import path and the Note-RNN to use."""

import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import note_rnn  # noqa: E402,F401  (selects Keras 2 before TensorFlow)


def note_rnn_checkpoint(path: str | None) -> str:
    """The given checkpoint, else the shipped one, else a random 1 x 100 model in /tmp."""
    from rl_tuner.plumbing import checkpoint
    from rl_tuner.models import sequence_model as model
    if path:
        return path
    shipped = os.path.join(ROOT, "checkpoints", "note_rnn")
    if checkpoint.is_checkpoint(shipped):
        return shipped
    tmp = "/tmp/rl_tuner_bench_random_note_rnn"
    if not checkpoint.is_checkpoint(tmp):
        checkpoint.save_model(tmp, model.build(seed=0))
    return tmp


def timed(fn, totals: dict, key: str):
    """``fn`` wrapped to add its wall time in seconds (time.perf_counter) to ``totals[key]``."""
    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        out = fn(*args, **kwargs)
        totals[key] = totals.get(key, 0.0) + time.perf_counter() - t
        return out
    return wrapper
