"""The core's MLE trainer (rl_tuner.models.mle) on a vocabulary other than melodies': the model
stores its vocabulary and learns the data (the Note-RNN recipe is tests/test_note_rnn_train.py)."""

import dataclasses
import json
import os

import numpy as np

import rl_tuner  # noqa: F401  (selects Keras 2 before TensorFlow)
from rl_tuner.plumbing import checkpoint  # noqa: E402
from rl_tuner.models import mle  # noqa: E402


@dataclasses.dataclass
class Hyper:
    out_dir: str
    layer_sizes: tuple = (8,)
    batch_size: int = 16
    epochs: int = 3
    learning_rate: float = 0.05
    decay_steps: int = 1000
    decay_rate: float = 0.85
    staircase: bool = True
    l2_reg: float = 0.0
    clip_norm: float = 5.0
    seed: int = 0


def test_fit_trains_a_model_of_any_vocabulary_and_stores_it(tmp_path):
    rng = np.random.default_rng(0)
    # "abcab..." cycles with the end token "." after 9 symbols: easy to learn.
    sequences = [np.array([(k + i) % 3 + 1 for i in range(9)] + [0]) for k in rng.integers(0, 3, 64)]
    arrays = mle.evaluation_arrays(sequences, max_length=10, skip_first_n_losses=1, min_window=4)
    assert arrays[0].shape == (64, 9) and arrays[2][:, 0].sum() == 0  # the first prediction has no loss
    hyper = Hyper(out_dir=str(tmp_path / "run"))
    os.makedirs(hyper.out_dir)
    history = mle.fit(hyper, arrays, arrays, 4, make_card=lambda record: {"epoch": record["epoch"]},
                      vocabulary=(".", "a", "b", "c"), name="toy model", progress=False)
    first, last = history["epochs"][0], history["epochs"][-1]
    assert len(history["epochs"]) == 3
    assert last["validation_log_perplexity"] < first["validation_log_perplexity"] < np.log(4) + 0.1
    assert last["validation_accuracy"] >= 0.875  # the 7 cycle predictions of the 8 scored in a window
    model_dir = os.path.join(hyper.out_dir, "model")
    with open(os.path.join(model_dir, "config.json")) as f:
        assert json.load(f) == {"format": "sequence_rnn/1", "num_classes": 4, "layer_sizes": [8],
                                "vocabulary": [".", "a", "b", "c"]}
    loaded = checkpoint.load_model(model_dir)
    assert loaded.config.vocabulary == (".", "a", "b", "c")
    metrics = mle.evaluate_arrays(lambda i, t, w: mle.masked_metrics(loaded(i), t, w), arrays)
    assert abs(metrics["log_perplexity"] - history["best"]["validation_log_perplexity"]) < 1e-5
