"""Tuning speed of Magenta melody_rnn priors beside the paper's 1 x 100 Note-RNN.

Environment steps per second of ``rl-tuner train`` at the paper's settings (psi, one train
step of batch 32 per 5 environment steps, replay 100,000, 256 melodies in parallel, no
evaluations) for:

* ``basic_1x100``: the shipped Note-RNN (one-hot input, 38 classes);
* ``lookback_rnn`` and ``attention_rnn``: random-weight models of Magenta's default
  configuration sizes (2 x 128 LSTMs; lookback 121 features -> 40 classes; attention 74
  key-melody features -> 40 classes with a 40-step attention window on layer 0), built with
  the configuration's encoder (features computed in TensorFlow, :mod:`note_rnn.melody_tf`).
  The weights do not change the cost; ``--bundle-dir`` uses real ``.mag`` bundles instead.

Prints one line per model and a JSON object as the last line::

    python benchmarks/magenta_tuning_speed.py --steps 40960
"""

import argparse
import json
import os
import tempfile
import time

import _common

from rl_tuner.plumbing import checkpoint  # noqa: E402
from rl_tuner.runner import config as config_lib  # noqa: E402
from rl_tuner.models import sequence_model as model_lib  # noqa: E402
from rl_tuner.runner import train  # noqa: E402
from note_rnn import melody_configs  # noqa: E402

MAGENTA_SIZES = (128, 128)  # rnn_layer_sizes of melody_rnn_model.default_configs


def random_prior(name: str, directory: str) -> str:
    """A random-weight model of configuration ``name`` at Magenta's default sizes, saved as a checkpoint."""
    encoder = melody_configs.MelodyEncoder(melody_configs.CONFIGS[name])
    config = model_lib.SequenceRNNConfig(num_classes=encoder.num_classes, layer_sizes=MAGENTA_SIZES,
                                         input_size=encoder.model_input_size,
                                         attention_length=encoder.config.attention_length)
    model = model_lib.build(config, seed=0, name="prior") if config.one_hot_inputs else None
    if model is None:
        model = model_lib.SequenceRNN(config, name="prior", input_encoder=encoder)
    path = os.path.join(directory, name)
    checkpoint.save(path, config.layer_sizes, model.get_named_weights(), config.num_classes,
                    input_size=config.input_size, attention_length=config.attention_length, encoder=encoder.spec())
    return path


def measure(prior: str, steps: int, algorithm: str) -> dict:
    """Environment steps per second of tuning ``prior`` (after one warm-up rollout)."""
    cfg = config_lib.from_preset("paper", task="melody", algorithm=algorithm, steps=steps, prior=prior)
    state = train.RunState(cfg, tempfile.mkdtemp(prefix="rl_tuner_bench_"))
    env = train.make_environment(cfg)
    step = train._play_episodes(state, env, cfg, 0, train.Tally())  # traces the compiled functions
    steps0, train0, tally = step, int(state.learner.train_steps.numpy()), train.Tally()
    t0 = time.perf_counter()
    while step - steps0 < steps:
        step = train._play_episodes(state, env, cfg, step, tally)
    seconds = time.perf_counter() - t0
    return {"env_steps": step - steps0, "seconds": round(seconds, 2),
            "env_steps_per_s": round((step - steps0) / seconds, 1),
            "train_steps": int(state.learner.train_steps.numpy()) - train0, "num_envs": cfg.num_envs}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40_960, help="environment steps timed per model")
    parser.add_argument("--algorithm", default="psi", choices=["q", "psi", "g", "pure_rl"])
    parser.add_argument("--bundle-dir", default=None, help="use DIR/lookback_rnn.mag and DIR/attention_rnn.mag")
    parser.add_argument("--models", default="basic_1x100,lookback_rnn,attention_rnn")
    parser.add_argument("--intra-op-threads", type=int, default=1, help="as rl-tuner train (0: TF default)")
    args = parser.parse_args()
    train.set_intra_op_threads(args.intra_op_threads)
    results = {}
    with tempfile.TemporaryDirectory(prefix="magenta_priors_") as tmp:
        for name in args.models.split(","):
            if name == "basic_1x100":
                prior = _common.note_rnn_checkpoint(None)
            elif args.bundle_dir:
                prior = os.path.join(args.bundle_dir, f"{name}.mag")
            else:
                prior = random_prior(name, tmp)
            results[name] = measure(prior, args.steps, args.algorithm)
            print(f"{name}: {results[name]['env_steps_per_s']:.0f} env steps/s ({results[name]['env_steps']} steps, "
                  f"{results[name]['train_steps']} train steps in {results[name]['seconds']} s)", flush=True)
    print(json.dumps({"algorithm": args.algorithm, "sizes": list(MAGENTA_SIZES) if not args.bundle_dir else None,
                      "intra_op_threads": args.intra_op_threads, "results": results}))


if __name__ == "__main__":
    main()
