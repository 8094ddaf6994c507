"""Executors: where independent units of work (replicates, sweep jobs' replicates) run.

One interface, three places:

- ``serial``: in this process, one after another;
- ``joblib``: local worker processes (joblib's loky backend), reused across calls;
- ``dask``: the workers of a running Dask cluster (``distributed.Client(address)``).

A unit's result depends only on its arguments (every replicate seeds its own streams from
``SeedSequence(seed, spawn_key=(replicate,))``), so the same work gives bit-identical
results on every executor and any number of workers.  Functions are sent by reference
(module and name), so workers need ``sim`` importable.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sim.core.schema import EXECUTORS, ConfigError, ExecutorConfig


def available_cores() -> int:
    """Cores this process may run on (the Slurm/cgroup allocation, not the whole node)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def n_workers(n_jobs: int, n_tasks: int) -> int:
    """Local workers for ``n_tasks`` units: ``n_jobs`` (-1 or 0 = every available core), at most one per unit."""
    want = available_cores() if n_jobs in (-1, 0) else n_jobs
    return max(1, min(n_tasks, want))


def _call(index: int, fn: Callable, args: tuple) -> tuple[int, Any]:
    return index, fn(*args)


# --------------------------------------------------------------------------- local workers die with their parent
WATCH_INTERVAL_S = 0.5  # how often a local worker checks that its parent is alive
_watching: list[int] = []  # the parent pid this worker process watches (set once, in the worker)


def _watch(parent: int, interval: float) -> None:
    while os.getppid() == parent:
        time.sleep(interval)
    os._exit(1)  # the parent is gone (killed, even by SIGKILL): this worker's results have nowhere to go


def die_with_parent(parent: int, interval: float = WATCH_INTERVAL_S) -> None:
    """Start (once per process) a daemon thread that ends this process within ``interval``
    seconds of the death of its parent, process ``parent`` (given by the parent: a worker
    still starting when the parent dies must not take its new parent, init, for it).  loky's workers otherwise outlive a parent killed with
    SIGKILL by many minutes (~180 MB each): nothing tells them, and they wait for work
    until their idle timeout.  Polling ``os.getppid()`` (the parent's death re-parents the
    worker) works on every POSIX system and for any killer; ``prctl(PR_SET_PDEATHSIG)``
    would fire when the *thread* that started the worker exits (loky starts them from a
    thread of its own), not only when the parent process dies."""
    if _watching:
        return
    _watching.append(parent)
    threading.Thread(target=_watch, args=(_watching[0], interval), name="die-with-parent", daemon=True).start()


def _trim_threshold() -> str | None:
    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


def trim_warning(by_worker: dict[str, str | None]) -> str:
    """A one-line warning if Dask workers run with ``MALLOC_TRIM_THRESHOLD_`` set (Dask's
    nanny sets 65536 by default).  Measured here: a Shandong replicate takes ~25% more CPU
    with it (1.25 s vs 0.99 s) -- any explicit value also stops glibc adapting its mmap
    threshold, so large NumPy temporaries are mapped and faulted in afresh each time."""
    bad = sorted(w for w, v in by_worker.items() if v is not None)
    if not bad:
        return ""
    return (f"{len(bad)} Dask worker(s) run with MALLOC_TRIM_THRESHOLD_={by_worker[bad[0]]}, which slows this model ~25%: "
            "start workers with --no-nanny, or give the nanny a Dask config with "
            "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_: null")


class Executor:
    """Runs ``fn(*args)`` for each args tuple.  Subclasses implement :meth:`imap_unordered`."""

    name = "serial"

    def imap_unordered(self, fn: Callable, args: Iterable[tuple]) -> Iterator[tuple[int, Any]]:
        """Yield ``(index, result)`` as units complete (index = position in ``args``)."""
        for i, a in enumerate(args):
            yield i, fn(*a)

    def imap(self, fn: Callable, args: Iterable[tuple]) -> Iterator[Any]:
        """Yield results in the order of ``args`` (buffering those that finish early)."""
        done: dict[int, Any] = {}
        nxt = 0
        for i, res in self.imap_unordered(fn, args):
            done[i] = res
            while nxt in done:
                yield done.pop(nxt)
                nxt += 1

    def describe(self) -> str:
        return self.name

    def close(self) -> None:
        pass

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialExecutor(Executor):
    name = "serial"


class JoblibExecutor(Executor):
    """Local processes (loky).  The worker pool outlives the call, so a sweep's or a
    multirun's successive calls reuse warm workers (imports, caches); it does not outlive
    this process: every worker watches its parent (:func:`die_with_parent`)."""

    name = "joblib"

    def __init__(self, n_jobs: int = -1, n_tasks: int | None = None) -> None:
        self.n_jobs = n_jobs
        self.n_tasks = n_tasks

    def workers(self, n_tasks: int) -> int:
        return n_workers(self.n_jobs, n_tasks)

    def describe(self) -> str:
        return f"joblib ({self.workers(self.n_tasks or 10**9)} workers)"

    def imap_unordered(self, fn: Callable, args: Iterable[tuple]) -> Iterator[tuple[int, Any]]:
        args = list(args)
        workers = self.workers(len(args))
        if workers == 1:  # no pool for one worker: same results, no process start-up
            yield from super().imap_unordered(fn, args)
            return
        from joblib import Parallel, delayed

        # initializer: each worker exits when this process dies (the executor, and its
        # workers, are reused across calls: the same function and arguments keep it warm)
        par = Parallel(n_jobs=workers, return_as="generator_unordered", batch_size=1,
                       initializer=die_with_parent, initargs=(os.getpid(),))
        yield from par(delayed(_call)(i, fn, a) for i, a in enumerate(args))


class DaskExecutor(Executor):
    """The workers of a running Dask scheduler at ``address`` (``tcp://HOST:PORT``)."""

    name = "dask"

    def __init__(self, address: str, timeout: float = 30.0) -> None:
        if not address:
            raise ConfigError("executor.address: '' is not allowed (allowed: tcp://HOST:PORT of a running Dask scheduler when executor=dask)")
        self.address, self.timeout = address, timeout
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            from distributed import Client

            try:
                self._client = Client(self.address, timeout=self.timeout, set_as_default=False)
            except (OSError, TimeoutError) as e:
                raise ConfigError(f"executor.address: {self.address!r} is not allowed (allowed: a Dask scheduler answering within "
                                  f"{self.timeout:g} s; {type(e).__name__})") from None
            warning = trim_warning(self._client.run(_trim_threshold))
            if warning:
                warnings.warn(warning, RuntimeWarning, stacklevel=2)
        return self._client

    def describe(self) -> str:
        return f"dask ({self.address})"

    def imap_unordered(self, fn: Callable, args: Iterable[tuple]) -> Iterator[tuple[int, Any]]:
        from distributed import as_completed

        client = self.client()
        futures = {client.submit(_call, i, fn, a, pure=False): i for i, a in enumerate(args)}
        try:
            for fut in as_completed(futures, loop=client.loop):
                yield fut.result()
        finally:  # a consumer that stops early (or fails) leaves nothing queued on the cluster
            client.cancel(list(futures))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def make_executor(spec: ExecutorConfig | str = "joblib", n_jobs: int = -1, n_tasks: int | None = None,
                  address: str | None = None, timeout: float | None = None) -> Executor:
    """An executor from an :class:`ExecutorConfig` (``config.executor``) or a name."""
    if isinstance(spec, ExecutorConfig):
        name, address, timeout = spec.name, address or spec.address, timeout or spec.timeout
    else:
        name = spec
    if name == "serial":
        return SerialExecutor()
    if name == "joblib":
        return JoblibExecutor(n_jobs, n_tasks)
    if name == "dask":
        return DaskExecutor(address or "", timeout or 30.0)
    raise ConfigError(f"executor: {name!r} is not allowed (allowed: {', '.join(EXECUTORS)})")
