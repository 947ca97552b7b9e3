"""Which worker of a multi-worker training run writes ``--out`` (pure Python, no TensorFlow).

Under ``--strategy multi_worker`` (``MultiWorkerMirroredStrategy``) every worker runs the same
command and must take part in every save, because saving a checkpoint of mirrored variables
may run collective operations. As TensorFlow's multi-worker guides do, only the chief writes
the real output; every other worker writes its copies into a temporary directory of its own
that it deletes at the end (:func:`output_dir`). The chief is the ``TF_CONFIG`` task of type
"chief", or worker 0 when the cluster has no "chief" job (:func:`is_chief`).

To resume, a non-chief worker restores the chief's checkpoints from ``--out/ckpt`` (so ``--out``
must be on a file system every worker reads, e.g. NFS or a bucket, for a resumed run).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
from typing import Iterator, Optional, Tuple


def is_chief(tf_config: Optional[dict]) -> bool:
    """True if the task described by a parsed ``TF_CONFIG`` writes the run's output.

    Args:
      tf_config: ``json.loads(os.environ["TF_CONFIG"])``: ``{"cluster": {job: [addresses]},
        "task": {"type": job, "index": i}}``; None or {} for a process outside a cluster.

    Returns:
      True for no task (a single process), a task of type "chief", or worker 0 of a cluster
      without a "chief" job (TensorFlow's rule, as in its multi-worker save guide); False for
      other workers, worker 0 beside a chief, an "evaluator" or a parameter server.
    """
    task = (tf_config or {}).get("task") or {}
    task_type = task.get("type")
    if task_type is None:
        return True
    if task_type == "chief":
        return True
    cluster = (tf_config or {}).get("cluster") or {}
    return task_type == "worker" and int(task.get("index", 0)) == 0 and "chief" not in cluster


def tf_config(environ=None) -> dict:
    """The parsed ``TF_CONFIG`` environment variable ({} when unset or empty).

    Raises:
      ValueError: it is not a JSON object (the message quotes its start).
    """
    text = (os.environ if environ is None else environ).get("TF_CONFIG", "").strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as e:
        raise ValueError(f"TF_CONFIG is not valid JSON ({e}): {text[:80]!r}") from None
    if not isinstance(value, dict):
        raise ValueError(f"TF_CONFIG must be a JSON object with \"cluster\" and \"task\", got {text[:80]!r}")
    return value


def task_name(config: dict) -> str:
    """``TYPE-INDEX`` of a parsed ``TF_CONFIG``'s task, e.g. ``worker-1`` (``chief-0`` for none)."""
    task = config.get("task") or {}
    return f"{task.get('type', 'chief')}-{task.get('index', 0)}"


def writes_output(strategy: str, environ=None) -> bool:
    """True if this process writes the run's ``--out``: any strategy but "multi_worker", or the
    chief of a multi-worker run (:func:`is_chief` of ``TF_CONFIG``).

    Raises:
      ValueError: an invalid ``TF_CONFIG`` (see :func:`tf_config`).
    """
    return strategy != "multi_worker" or is_chief(tf_config(environ))


def final_line(strategy: str, out_dir: str, line: str, environ=None) -> str:
    """A trainer command's last line: ``line`` (the best model, in ``out_dir``) for the process
    that writes ``out_dir``; for another worker of a multi-worker run, that the chief has it."""
    if writes_output(strategy, environ):
        return line
    return f"{task_name(tf_config(environ))} done; the chief's {out_dir} holds the run (this worker's copies are removed)"


@contextlib.contextmanager
def output_dir(out_dir: str, strategy: str, environ=None) -> Iterator[Tuple[str, Optional[str]]]:
    """Where this process writes a training run: ``(write_dir, restore_dir)``.

    For every strategy but "multi_worker", and for the chief of a multi-worker run, yields
    ``(out_dir, None)``: the run is written (and resumed) in ``out_dir`` as usual. Any other
    worker gets a new temporary directory (``tempfile.mkdtemp``, under ``$TMPDIR``) to write
    its copies of the checkpoints, model, history and logs in, and ``out_dir``, the chief's
    run, to restore the training state from (read only); the temporary directory is removed
    when the block ends, also on an error. It never creates or writes ``out_dir``.

    Args:
      out_dir: the run's ``--out``.
      strategy: the run's ``--strategy`` name.
      environ: the environment holding ``TF_CONFIG`` (default ``os.environ``).

    Raises:
      ValueError: an invalid ``TF_CONFIG`` (see :func:`tf_config`).
    """
    if writes_output(strategy, environ):
        yield out_dir, None
        return
    name = task_name(tf_config(environ))
    temporary = tempfile.mkdtemp(prefix=f"{os.path.basename(os.path.normpath(out_dir)) or 'run'}.{name}.")
    print(f"{name} is not the chief: writing its copies to {temporary} (removed at the end); the chief writes "
          f"{out_dir}", file=sys.stderr)
    try:
        yield temporary, out_dir
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
