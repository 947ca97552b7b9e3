"""rl_tuner.plumbing.beam_map: results in job order, dead letters, the work folder under --temp_location."""

import os

import pytest

from rl_tuner.plumbing import beam_map


def test_results_in_order_dead_letters_and_work_folder(tmp_path):
    pytest.importorskip("apache_beam")
    jobs = ["a/b", "c/d", 3, "e/f", "g/h"]
    temp = tmp_path / "temp"
    temp.mkdir()
    results, dead = beam_map.map_jobs(os.path.basename, jobs, "DirectRunner", ["--temp_location", str(temp)])
    assert results == ["b", "d", None, "f", "h"]
    assert dead == [(2, "TypeError: expected str, bytes or os.PathLike object, not int")]
    assert os.listdir(temp) == []  # the results folder made under --temp_location is removed


def test_a_runner_without_beam_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "apache_beam", None)
    with pytest.raises(beam_map.BeamUnavailableError, match=r"pip install -c constraints-beam.txt"):
        beam_map.map_jobs(os.path.basename, ["a"], "DirectRunner")


def test_an_unknown_pipeline_option_is_refused_not_ignored(tmp_path):
    pytest.importorskip("apache_beam")
    with pytest.raises(ValueError, match=r"^unknown Beam pipeline options --direct_num_worker, --no_such_flag \(see "
                                         r"the runner's pipeline options\)$"):
        beam_map.map_jobs(os.path.basename, ["a/b"], "DirectRunner",
                          ["--direct_num_worker", "2", "--no_such_flag", "--temp_location", str(tmp_path)])
    assert os.listdir(tmp_path) == []
    results, _ = beam_map.map_jobs(os.path.basename, ["a/b"], "DirectRunner",  # Beam's own options still pass
                                   ["--direct_num_workers", "1", "--direct_running_mode", "in_memory"])
    assert results == ["b"]
