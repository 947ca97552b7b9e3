"""Run in a fresh process by tests/test_mle_distribute.py: two logical CPU devices, a tiny
MLE run with one strategy; prints {"replicas", "history"} as JSON on its last line.

Usage: python tests/distribute_check.py STRATEGY OUT_DIR EPOCHS
"""

import json
import sys

from rl_tuner._tf_setup import use_legacy_keras

use_legacy_keras()
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from note_rnn.train_config import TrainConfig  # noqa: E402
from rl_tuner.models import mle  # noqa: E402


def main(strategy, out_dir, epochs):
    rng = np.random.default_rng(0)
    melodies = [rng.integers(0, 38, size=int(n)) for n in rng.integers(20, 40, size=24)]
    arrays = mle.evaluation_arrays(melodies, 16, 2, 4)
    config = TrainConfig(data_dir="unused", out_dir=out_dir, layer_sizes=(8,), batch_size=8, max_length=16,
                         epochs=int(epochs), learning_rate=0.05, decay_steps=5, skip_first_n_losses=2, min_window=4,
                         seed=3, strategy=strategy)
    history = mle.fit(config, arrays, arrays, 38, lambda record: {"record": record}, progress=False)
    replicas = mle.make_strategy(strategy).num_replicas_in_sync
    print(json.dumps({"replicas": replicas, "history": history}))


if __name__ == "__main__":
    main(*sys.argv[1:])
