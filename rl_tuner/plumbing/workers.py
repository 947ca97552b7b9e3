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
import signal
import sys
import tempfile
import threading
from typing import Iterator, Optional, Tuple

CLUSTER_TIMEOUT_ENV = "RL_TUNER_CLUSTER_TIMEOUT"  # seconds a worker waits for the cluster to come up
DEFAULT_CLUSTER_TIMEOUT_S = 600.0


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
      ValueError: it is not a JSON object, or its "cluster" is not an object of address
        lists or its "task" not an object with a string "type" and an index >= 0 (the
        message quotes its start).
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
    task, cluster = value.get("task", {}), value.get("cluster", {})
    if (not isinstance(task, dict) or not isinstance(cluster, dict)
            or not all(isinstance(hosts, list) and all(isinstance(h, str) for h in hosts) for hosts in cluster.values())
            or not isinstance(task.get("type", ""), str)
            or isinstance(task.get("index", 0), bool) or not str(task.get("index", 0)).isdigit()):
        raise ValueError("TF_CONFIG must look like {\"cluster\": {\"worker\": [\"host:port\", ...]}, \"task\": "
                         f"{{\"type\": \"worker\", \"index\": 0}}}}, got {text[:80]!r}")
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


def cluster_timeout(environ=None) -> float:
    """Seconds a worker waits for every worker of ``TF_CONFIG`` to start: the environment
    variable ``RL_TUNER_CLUSTER_TIMEOUT``, default :data:`DEFAULT_CLUSTER_TIMEOUT_S` (600).

    Raises:
      ValueError: the variable is not a positive number (the message quotes it).
    """
    text = (os.environ if environ is None else environ).get(CLUSTER_TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_CLUSTER_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{CLUSTER_TIMEOUT_ENV} must be a number of seconds > 0, got {text!r}")
    return value


# The watchdog process of waiting_for_cluster: argv = parent pid, seconds, error line, a pipe's
# fd. Its stdin reaches end of file when the parent is done waiting (or has died); the pipe
# carries the parent's signal numbers (signal.set_wakeup_fd), so a SIGINT of the parent reaches it.
_WATCHDOG = r"""
import os, select, signal, sys
parent, timeout, error, signals = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], int(sys.argv[4])
stdin = sys.stdin.fileno()
message = None
try:
    while message is None:
        ready, _, _ = select.select([stdin, signals], [], [], timeout)
        if not ready:
            message = error
        elif stdin in ready:
            sys.exit(0)
        elif bytes([signal.SIGINT]) in os.read(signals, 64):
            message = "interrupted while waiting for the cluster; nothing was written"
except KeyboardInterrupt:
    message = "interrupted while waiting for the cluster; nothing was written"
print(message, file=sys.stderr, flush=True)
os.kill(parent, signal.SIGKILL)
"""


@contextlib.contextmanager
def waiting_for_cluster(environ=None) -> Iterator[None]:
    """Bounds the wait for the other workers while the block makes a ``MultiWorkerMirroredStrategy``.

    TensorFlow's strategy blocks until every worker of ``TF_CONFIG`` has started, printing
    nothing (its log is off), in C++ that holds Python's lock: neither a Python thread, nor
    Ctrl+C, nor SIGTERM (TensorFlow catches it) gets through. This prints what the worker waits
    for and starts a small watchdog process: if the block has not ended after
    :func:`cluster_timeout` seconds, or on Ctrl+C (of the terminal, or SIGINT to this
    process), it prints one line (``error: ...`` naming the cluster's addresses, or
    ``interrupted ...``) and kills this process (SIGKILL: exit status 137 in a shell). Nothing
    of the run has been written at that point.

    Args:
      environ: the environment holding ``TF_CONFIG`` (default ``os.environ``).

    Raises:
      ValueError: an invalid ``TF_CONFIG`` or ``RL_TUNER_CLUSTER_TIMEOUT``.
    """
    import subprocess  # pylint: disable=import-outside-toplevel
    config = tf_config(environ)
    timeout = cluster_timeout(environ)
    cluster = config.get("cluster") or {}
    addresses = ", ".join(f"{job} {address}" for job, hosts in cluster.items() for address in hosts)
    name = task_name(config)
    error = (f"error: {name}: the cluster of TF_CONFIG ({addresses}) did not come up within {timeout:g} s: start "
             f"the command on every worker, check the addresses, or set {CLUSTER_TIMEOUT_ENV}")
    signals_read, signals_write = os.pipe()
    os.set_blocking(signals_write, False)
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.set_wakeup_fd(signals_write, warn_on_full_buffer=False)
    try:
        watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(os.getpid()), repr(timeout), error, str(signals_read)],
            stdin=subprocess.PIPE, pass_fds=(signals_read,))
    except BaseException:
        os.close(signals_read)
        os.close(signals_write)
        raise
    print(f"{name}: waiting up to {timeout:g} s for every worker of TF_CONFIG ({addresses}) to start "
          f"(set {CLUSTER_TIMEOUT_ENV} to wait longer; Ctrl+C stops)", file=sys.stderr, flush=True)
    try:
        yield
    finally:
        watchdog.stdin.close()  # the watchdog exits
        watchdog.wait()
        if previous is not None:
            signal.set_wakeup_fd(previous)
        os.close(signals_read)
        os.close(signals_write)
