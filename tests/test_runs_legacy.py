"""Resuming a run made before a setting existed (rl_tuner.plumbing.runs): when today's default of the
setting differs from the meaning the run had, the refusal says which flag resumes it."""

import dataclasses
import json
import os

import pytest

from rl_tuner.plumbing import runs


@dataclasses.dataclass
class Old:
    steps: int = 10


@dataclasses.dataclass
class Settings:
    steps: int = 10
    end_transitions: float = 0.25  # today's default; the old runs had none (0.0)
    save_replay: bool = False
    LEGACY_DEFAULTS = {"end_transitions": 0.0, "save_replay": True}

    @classmethod
    def upgrade_stored(cls, stored: dict) -> dict:
        return {**cls.LEGACY_DEFAULTS, **stored}


def test_a_run_that_predates_a_setting_names_the_flags_that_resume_it(tmp_path):
    out = str(tmp_path / "run")
    with runs.run_directory(out, "test") as run:  # made before end_transitions and save_replay existed
        run.start("config.json", Old())
    with open(os.path.join(out, "config.json")) as f:
        assert json.load(f) == {"steps": 10}
    with pytest.raises(ValueError, match=(
            rf"^{out} holds a run with different settings \(end_transitions: 0.0 -> 0.25, save_replay: True -> "
            r"False\); use a new --out directory or the same settings to resume; the run predates end_transitions, "
            r"save_replay: give --end-transitions 0.0 --save-replay to resume it$")):
        with runs.run_directory(out, "test") as run:
            run.start("config.json", Settings(), may_change=("steps",))
    with runs.run_directory(out, "test") as run:  # the flags it names resume it
        assert run.start("config.json", Settings(steps=20, end_transitions=0.0, save_replay=True),
                         may_change=("steps",))
    with pytest.raises(ValueError, match=r"different settings \(end_transitions: 0.0 -> 0.5\); use a new --out "
                                         r"directory or the same settings to resume$"):  # now stored: no hint
        with runs.run_directory(out, "test") as run:
            run.start("config.json", Settings(end_transitions=0.5, save_replay=True), may_change=("steps",))
