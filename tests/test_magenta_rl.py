"""A Magenta checkpoint is usable everywhere a trained Note-RNN is: RL tuning and export."""

import json
import os

import numpy as np
import pytest

import note_rnn
from rl_tuner.runner import config as config_lib
from rl_tuner.runner import policy, train

MAGENTA_CKPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared",
                            "magenta", "model.ckpt-1994")
pytestmark = pytest.mark.skipif(not os.path.exists(MAGENTA_CKPT),
                                reason=f"the Magenta test checkpoint is not at {MAGENTA_CKPT}")


def test_rl_tuning_runs_directly_on_a_magenta_checkpoint(tmp_path):
    cfg = config_lib.RLConfig(algorithm="psi", prior=MAGENTA_CKPT, steps=2 * 8 * 32, num_envs=8,
                              eval_every=8 * 32, eval_samples=20, final_eval_samples=50, num_samples=0,
                              replay_capacity=1000, batch_size=8)
    final = train.run(cfg, str(tmp_path / "run"), progress=False, log=lambda *a: None)
    assert final["steps"] == 512 and final["train_steps"] == 512 // 5
    # The run's prior is the converted Magenta network, unchanged by tuning.
    tuned = policy.load_policy(str(tmp_path / "run"))
    magenta = note_rnn.load(MAGENTA_CKPT)
    tokens = np.array([[14, 0, 16, 0, 18, 1, 19, 0]])
    np.testing.assert_allclose(tuned.prior_rnn.sequence_logits(tokens), magenta.sequence_logits(tokens), atol=1e-6)
    with open(tmp_path / "run" / "stats.json") as f:
        stats = json.load(f)
    assert stats["before"]["num_melodies"] == 50 and stats["after"]["mean_kl"] > 0
