"""Running untrusted jobs (parsing users' files) in worker processes that may die or hang.

``multiprocessing.Pool`` waits forever when one of its workers is killed (out of memory,
a crash in C code). :func:`imap_isolated` uses ``concurrent.futures.ProcessPoolExecutor``,
which reports a dead worker as ``BrokenProcessPool``, and turns every death or hang into a
:class:`JobFailed` result of the job that caused it; the other jobs still run:

* at most ``2 * workers`` jobs are in flight, so when a worker dies only those jobs are
  suspects. The suspects are run again one at a time in a pool of one worker: a suspect
  that kills (or hangs) its worker alone is the culprit; the others complete normally.
  Then the remaining jobs go on in a pool of ``workers``.
* each worker limits its own address space (``RLIMIT_AS``), so that a huge allocation
  fails with ``MemoryError`` inside the job instead of taking the machine's memory.
* a pool in which no job completes for ``hang_timeout`` seconds is killed and treated like a
  dead worker (jobs are expected to enforce their own, shorter time limit; this catches code
  that does not return to Python, where a signal cannot interrupt it). Each new pool first
  runs a no-op job that imports ``function``'s module, so that the time a worker takes to
  start (spawning, imports) is not counted.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import multiprocessing
import signal
import time
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterator, Optional, Sequence, Tuple

IN_FLIGHT_PER_WORKER = 2
START_TIMEOUT_S = 300.0  # for a new pool's first (no-op) job: spawning and importing


@dataclasses.dataclass(frozen=True)
class JobFailed:
    """The result of a job whose worker died or hung.

    Attributes:
      reason: a one-line explanation, e.g. "the worker process was killed by SIGKILL
        (out of memory?) while working on it".
    """

    reason: str


def limit_memory(megabytes: int) -> None:
    """Caps this process's address space at ``megabytes`` MiB (``RLIMIT_AS``; 0: no cap).

    Used as the worker initializer. A no-op where ``resource`` does not exist (Windows).
    """
    if megabytes <= 0:
        return
    try:
        import resource  # pylint: disable=import-outside-toplevel
    except ImportError:
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = megabytes * 2**20
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def imap_isolated(function: Callable, jobs: Sequence, workers: int, hang_timeout: float = 0.0,
                  memory_mb: int = 0) -> Iterator[Tuple[int, object]]:
    """Runs ``function(job)`` for every job in ``workers`` spawned processes.

    Args:
      function: a picklable module-level function; it should catch its own exceptions (an
        exception it raises is re-raised here).
      jobs: picklable arguments, one per call.
      workers: number of worker processes (>= 1).
      hang_timeout: seconds without any finished job after which the pool is killed and
        the jobs in flight are retried one by one (a job that hangs alone fails); 0: wait
        forever.
      memory_mb: address-space limit of each worker in MiB; 0: none.

    Yields:
      ``(index of the job, function(job))``, or ``(index, JobFailed(reason))`` for a job
      whose worker died or hung; every index exactly once, in completion order.
    """
    pending = collections.deque(range(len(jobs)))
    suspects: collections.deque = collections.deque()
    context = multiprocessing.get_context("spawn")  # safe even if the caller imported TensorFlow
    executor: Optional[concurrent.futures.ProcessPoolExecutor] = None
    try:
        size = 0
        while pending or suspects:
            solo = bool(suspects)
            wanted = 1 if solo else workers  # suspects run alone, in a pool of one started worker
            if executor is not None and size != wanted:
                _kill(executor)
                executor = None
            if executor is None:
                executor, size = _start_pool(wanted, context, memory_mb, function), wanted
            queue, capacity = (suspects, 1) if solo else (pending, IN_FLIGHT_PER_WORKER * workers)
            in_flight: dict = {}
            failure = None
            # The pool forgets a dead worker's process object soon after it notices the death;
            # keep our own references so that its exit code can still be read.
            workers_seen = {p.pid: p for p in _processes(executor)}
            while (queue or in_flight) and failure is None:
                while queue and len(in_flight) < capacity:
                    try:
                        future = executor.submit(function, jobs[queue[0]])
                    except BrokenProcessPool:  # a worker died since the last wait
                        failure = _death_reason(workers_seen.values())
                        break
                    workers_seen.update((p.pid, p) for p in _processes(executor))  # spawned on demand
                    in_flight[future] = queue.popleft()
                if failure is not None:
                    break
                done, _ = concurrent.futures.wait(in_flight, timeout=hang_timeout or None,
                                                  return_when=concurrent.futures.FIRST_COMPLETED)
                if not done:
                    failure = f"no result after {hang_timeout:g} s (the worker hung and was killed)"
                for future in done:
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        failure = _death_reason(workers_seen.values())
                        continue
                    yield in_flight.pop(future), result
            if failure is not None:
                lost = sorted(in_flight.values())
                _kill(executor)
                executor = None
                if solo and lost:
                    yield lost[0], JobFailed(failure)
                else:  # (a solo pool broken with nothing in flight is just restarted)
                    suspects.extend(lost)
    finally:
        if executor is not None:
            _kill(executor)


def _ready(function: Callable) -> bool:  # pylint: disable=unused-argument
    """A no-op job; unpickling ``function`` imports its module in the worker."""
    return True


def _start_pool(workers: int, context, memory_mb: int, function: Callable
                ) -> concurrent.futures.ProcessPoolExecutor:
    """Starts a pool and waits until a worker has imported ``function`` and run a no-op job."""
    executor = concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=context, initializer=limit_memory, initargs=(memory_mb,))
    try:
        executor.submit(_ready, function).result(timeout=START_TIMEOUT_S)
    except (BrokenProcessPool, concurrent.futures.TimeoutError) as error:
        reason = _death_reason(_processes(executor)) if isinstance(error, BrokenProcessPool) else "timeout"
        _kill(executor)
        raise RuntimeError(f"worker processes did not start within {START_TIMEOUT_S:g} s ({reason})") from error
    return executor


def _processes(executor) -> list:
    # ProcessPoolExecutor has no public list of its processes before Python 3.14.
    return list((getattr(executor, "_processes", None) or {}).values())


def _death_reason(processes) -> str:
    """Describes how a worker of a broken pool ended (exit code or signal).

    Args:
      processes: the pool's worker ``multiprocessing.Process`` objects (the dead one among them).
    """
    processes = list(processes)
    for process in processes:  # the pool terminates the survivors; wait for the exit codes
        process.join(timeout=5)
    # The pool's own thread reaps the same processes: when its waitpid wins the race, ours
    # sees no child and the exit code appears only once that thread has stored it.
    deadline = time.monotonic() + 5
    while any(p.exitcode is None for p in processes) and time.monotonic() < deadline:
        time.sleep(0.02)
    codes = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
    codes.sort(key=lambda code: code == -signal.SIGTERM)  # the pool terminates the survivors
    if not codes:
        return "the worker process died while working on it"
    code = codes[0]
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (out of memory?)" if -code == signal.SIGKILL else ""
        return f"the worker process was killed by {name}{hint} while working on it"
    return f"the worker process exited with code {code} while working on it"


def _kill(executor) -> None:
    """Stops a pool at once: kills its worker processes (all started by this module)."""
    for process in _processes(executor):
        if process.is_alive():
            process.kill()
    executor.shutdown(wait=True, cancel_futures=True)
