"""Settings of a run (rl_tuner.runner.config) under their old names: config.json files, shipped
cards and command lines written before the core's names became task-neutral (num_notes ->
max_length, bootstrap_final_note -> bootstrap_final_step) still load, resume and parse."""

import contextlib
import glob
import io
import json
import os

import pytest

from rl_tuner import cli
from rl_tuner.plumbing import runs
from rl_tuner.runner.config import RLConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The config.json of a molecule frontier run made before the rename (runs/molecule_frontier/psi_c100_s0).
OLD_FRONTIER_CONFIG = {
    "task": "smiles", "algorithm": "psi", "prior": "checkpoints/smiles_rnn", "steps": 307200, "c": 100.0,
    "discount": 1.0, "batch_size": 64, "train_every": 200, "replay_capacity": 200000, "replay": "uniform",
    "new_priority": "max", "store_next_state": False, "save_replay": True, "learning_rate": 0.001,
    "target_update_rate": 0.01, "clip_norm": 5.0, "exploration": "boltzmann", "exploration_fraction": 0.0,
    "epsilon_start": 0.0, "epsilon_end": 0.0, "reward_mode": "default", "num_notes": 80, "num_envs": 256,
    "bootstrap_final_note": False, "head_init": "centered", "value_offset": "prior_return", "double": False,
    "end_transitions": 0.0, "learner": "path", "td_lambda": 1.0, "train_head_only": True, "eval_every": 50000,
    "eval_samples": 1000, "final_eval_samples": 10000, "num_samples": 4, "seed": 0}


def test_an_old_config_json_reads_in_todays_names():
    upgraded = RLConfig.upgrade_stored(OLD_FRONTIER_CONFIG)
    assert "num_notes" not in upgraded and "bootstrap_final_note" not in upgraded
    config = RLConfig(**upgraded)
    assert (config.max_length, config.bootstrap_final_step, config.learner) == (80, False, "path")
    stored = dict(OLD_FRONTIER_CONFIG, bootstrap_final_note=True, learner="transition", head_init="prior",
                  value_offset="none", train_head_only=False)
    assert RLConfig(**RLConfig.upgrade_stored(stored)).bootstrap_final_step is True


def test_an_old_run_resumes_with_the_same_settings_in_todays_names(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    old = {**OLD_FRONTIER_CONFIG, "task": "melody", "prior": "prior", "reward_mode": "music_theory_all",
           "num_notes": 32, "bootstrap_final_note": True}
    (out / "config.json").write_text(json.dumps(old))
    same = RLConfig(**{**RLConfig.upgrade_stored(old)})
    assert runs.changed_settings(str(out), "config.json", same) == {}
    shorter = RLConfig(**{**RLConfig.upgrade_stored(old), "max_length": 16, "bootstrap_final_step": False})
    assert runs.changed_settings(str(out), "config.json", shorter) == {
        "max_length": (32, 16), "bootstrap_final_step": (True, False)}


def test_the_shipped_cards_settings_read_in_todays_names():
    cards = sorted(glob.glob(os.path.join(ROOT, "checkpoints", "tuned", "*", "card.json")))
    with_settings = []
    for path in cards:
        with open(path) as f:
            card = json.load(f)
        if "settings" in card:
            config = RLConfig(**RLConfig.upgrade_stored(card["settings"]))
            with_settings.append((os.path.basename(os.path.dirname(path)), config.max_length))
    assert ("smiles_default_g", 80) in with_settings and len(with_settings) >= 3


def test_the_old_flag_names_still_parse_and_are_not_shown():
    parser = cli.build_parser()
    args = parser.parse_args(["train", "--num-notes", "16", "--bootstrap-final-note", "--out", "x"])
    assert (args.max_length, args.bootstrap_final_step) == (16, True)
    args = parser.parse_args(["train", "--max-length", "12", "--no-bootstrap-final-step", "--out", "x"])
    assert (args.max_length, args.bootstrap_final_step) == (12, False)
    text = io.StringIO()
    with contextlib.redirect_stdout(text), pytest.raises(SystemExit):
        parser.parse_args(["train", "--help"])
    assert "--max-length" in text.getvalue() and "--bootstrap-final-step" in text.getvalue()
    assert "--num-notes" not in text.getvalue() and "--bootstrap-final-note" not in text.getvalue()
