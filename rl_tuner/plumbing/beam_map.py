"""Runs one per-item function over a list of items on an Apache Beam runner, in order.

The data-preparation commands (``molecules prepare``, ``molecules score``, ``note-rnn
prepare``) split their input into jobs and apply one module-level function to each job; by
default in this process or a process pool, with ``--runner NAME`` on Beam. :func:`map_jobs`
is the Beam side: ``Create(jobs) | ParDo(apply fn) | WriteToText`` for the results and for
the dead letters (jobs whose function raised: ``(index, reason)``), then the results are read
back and returned in job order, so the caller's reduction (splits, duplicates, summary) is the
same code on both paths and gives the same output.

Apache Beam is an optional extra (``pip install -c constraints-beam.txt '.[beam]'``); this
module imports it only when :func:`map_jobs` runs. No TensorFlow.
"""

from __future__ import annotations

import base64
import os
import pickle
import shutil
import tempfile
import uuid
from typing import Any, Callable, List, Optional, Sequence, Tuple

DEAD_LETTERS = "dead_letters"
# Runners whose workers are processes of this machine: they get this checkout on PYTHONPATH so
# that they import the same code as the driver (an editable install may point elsewhere).
LOCAL_RUNNERS = ("DirectRunner", "PrismRunner", "FnApiRunner", "BundleBasedDirectRunner")


class BeamUnavailableError(ValueError):
    """``--runner`` was given but apache_beam is not installed (a user error, exit code 2)."""


def import_beam():
    """Returns the ``apache_beam`` module.

    Raises:
      BeamUnavailableError: not installed (the message gives the install command).
    """
    try:
        import apache_beam  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise BeamUnavailableError("--runner needs Apache Beam: pip install -c constraints-beam.txt "
                                   "'sequence-tutor[beam]' (see BUILD.md)") from None
    return apache_beam


def _encode(value: Any) -> str:
    return base64.b64encode(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)).decode("ascii")


def _decode(line: str) -> Any:
    return pickle.loads(base64.b64decode(line))


class _Apply:
    """The DoFn body: ``fn(job)`` -> main output, an exception -> the dead-letter output."""

    def __init__(self, fn: Callable[[Any], Any]):
        self.fn = fn

    def __call__(self, indexed):
        import apache_beam as beam  # pylint: disable=import-outside-toplevel
        index, job = indexed
        try:
            result = self.fn(job)
        except Exception as e:  # pylint: disable=broad-except  # one bad job must not stop the pipeline
            yield beam.pvalue.TaggedOutput(DEAD_LETTERS, _encode((index, f"{type(e).__name__}: {e}")))
            return
        yield _encode((index, result))


def _read_shards(prefix: str) -> List[Any]:
    from apache_beam.io.filesystems import FileSystems  # pylint: disable=import-outside-toplevel
    values = []
    for match in FileSystems.match([prefix + "*"])[0].metadata_list:
        with FileSystems.open(match.path) as f:
            values.extend(_decode(line) for line in f.read().decode("ascii").splitlines() if line)
    return values


def _runner(name: str):
    """The runner object or name for ``beam.Pipeline``.

    Beam 2.77's DirectRunner first tries the Prism runner, which downloads a Go binary at run
    time (impossible on a machine without internet access, where it hangs); the Python
    FnApiRunner that DirectRunner otherwise uses for these pipelines runs them directly and
    honours ``--direct_num_workers`` and ``--direct_running_mode``.
    """
    if name == "DirectRunner":
        from apache_beam.runners.portability.fn_api_runner import FnApiRunner  # pylint: disable=import-outside-toplevel
        return FnApiRunner()
    return name


def check_options(options) -> None:
    """Refuses pipeline options no Beam options class defines (Beam itself only logs
    "Unparseable argument" and runs without them, so ``--direct_num_worker 2`` would be ignored).

    Args:
      options: an ``apache_beam.options.pipeline_options.PipelineOptions``.

    Raises:
      ValueError: naming the unknown options.
    """
    unknown = sorted(set(options.get_all_options(retain_unknown_options=True)) - set(options.get_all_options()))
    if unknown:
        raise ValueError(f"unknown Beam pipeline option{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join('--' + name for name in unknown)} (see the runner's pipeline options)")


def map_jobs(fn: Callable[[Any], Any], jobs: Sequence[Any], runner: str,
             pipeline_args: Sequence[str] = (), work_dir: Optional[str] = None
             ) -> Tuple[List[Any], List[Tuple[int, str]]]:
    """Applies ``fn`` to every job on the Beam runner ``runner``.

    Args:
      fn: a module-level (picklable) function of one job; it runs on the workers.
      jobs: picklable jobs.
      runner: a Beam runner name ("DirectRunner", "FlinkRunner", "DataflowRunner", ...).
      pipeline_args: Beam's own pipeline options, e.g. ``["--direct_num_workers", "2",
        "--direct_running_mode", "multi_processing"]``.
      work_dir: where the workers write their results (on a cluster: a path every worker and
        the driver can reach); default: a new folder under Beam's ``--temp_location`` when
        given (e.g. ``gs://bucket/tmp``), else a local temporary folder; removed afterwards.

    Returns:
      (results, dead_letters): ``results[i]`` is ``fn(jobs[i])``, or None for a job whose
      function raised; ``dead_letters`` lists ``(i, "ExceptionType: message")`` of those jobs,
      by index.

    Raises:
      BeamUnavailableError: apache_beam is not installed.
      ValueError: an unknown pipeline option (:func:`check_options`) or runner (Beam's message).
    """
    beam = import_beam()
    from apache_beam.options.pipeline_options import PipelineOptions  # pylint: disable=import-outside-toplevel

    if runner in LOCAL_RUNNERS:
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        path = os.environ.get("PYTHONPATH", "")
        if here not in path.split(os.pathsep):
            os.environ["PYTHONPATH"] = here + (os.pathsep + path if path else "")
    from apache_beam.io.filesystems import FileSystems  # pylint: disable=import-outside-toplevel
    options = PipelineOptions(["--runner", runner, *pipeline_args])
    check_options(options)
    own_dir = work_dir is None
    if own_dir:
        temp_location = options.get_all_options().get("temp_location")
        work_dir = (FileSystems.join(temp_location, f"beam_map_{uuid.uuid4().hex}") if temp_location
                    else tempfile.mkdtemp(prefix="beam_map_"))
    results_prefix = FileSystems.join(work_dir, "results")
    dead_prefix = FileSystems.join(work_dir, DEAD_LETTERS)
    try:
        with beam.Pipeline(runner=_runner(runner), options=options) as pipeline:
            outputs = (pipeline
                       | "jobs" >> beam.Create(list(enumerate(jobs)), reshuffle=True)
                       | "apply" >> beam.FlatMap(_Apply(fn)).with_outputs(DEAD_LETTERS, main="results"))
            _ = outputs.results | "write results" >> beam.io.WriteToText(results_prefix)
            _ = outputs[DEAD_LETTERS] | "write dead letters" >> beam.io.WriteToText(dead_prefix)
        results: List[Any] = [None] * len(jobs)
        for index, result in _read_shards(results_prefix):
            results[index] = result
        dead = sorted(_read_shards(dead_prefix))
    finally:
        if own_dir:
            if os.path.isdir(work_dir):
                shutil.rmtree(work_dir, ignore_errors=True)
            else:
                try:
                    FileSystems.delete([work_dir])
                except Exception:  # pylint: disable=broad-except  # only clean-up
                    pass
    return results, dead
