"""A real Dask cluster on loopback: a `dask scheduler` and two `dask worker` processes
(one thread each, tiersim importable through PYTHONPATH, and *without*
MALLOC_TRIM_THRESHOLD_, which Dask's nanny sets to 65536 and which costs this model ~25% CPU:
see sim.run.executors.trim_warning); a small sweep and a forecast ensemble through
``executor=dask`` equal a serial run's.  The processes are stopped by id in a finally
block; every wait is bounded."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.config.compose import compose, compose_dict
from sim.run import design, ensemble, sweep
from sim.run.executors import _trim_threshold, trim_warning

ROOT = Path(__file__).resolve().parent.parent
DASK = Path(sys.executable).parent / "dask"
pytest.importorskip("distributed")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from distributed import Client

    tmp = tmp_path_factory.mktemp("dask")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"} | {"PYTHONPATH": str(ROOT)}
    procs: list[subprocess.Popen] = []
    log = open(tmp / "cluster.log", "wb")
    try:
        procs.append(subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                                      cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT))
        for i in range(2):
            procs.append(subprocess.Popen([str(DASK), "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                                           "--host", "127.0.0.1", "--local-directory", str(tmp / f"w{i}"), "--name", f"w{i}"],
                                          cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT))
        with Client(address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=60)
            workers = client.scheduler_info()["workers"]
            assert {w["host"] for w in workers.values()} == {"127.0.0.1"}
            trim = client.run(_trim_threshold)
            assert len(trim) == 2 and trim_warning(trim) == ""  # --no-nanny: Dask's 65536 is not set
        yield address
    finally:
        _stop(procs[1:])   # workers first, then the scheduler
        _stop(procs[:1])
        log.close()


def test_sweep_on_dask_equals_serial(cluster, tmp_path):
    base = compose_dict("shandong", "baseline", ["scenario.scale=0.02", "n_replicates=3"])
    jobs = [(pt, design.apply(base, pt)) for pt in ({"policy.financing.intensity": f} for f in (0.0, 1.0))]
    t0 = time.perf_counter()
    on_dask = sweep.run_sweep(jobs, tmp_path / "dask", executor="dask", address=cluster, verbose=False, timeout=20)
    assert time.perf_counter() - t0 < 120
    serial = sweep.run_sweep(jobs, tmp_path / "serial", executor="serial", verbose=False)
    pd.testing.assert_frame_equal(on_dask, serial)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "dask" / "sweep.parquet"), pd.read_parquet(tmp_path / "serial" / "sweep.parquet"))


def test_ensemble_on_dask_via_the_config_equals_serial(cluster):
    cfg = compose("liaocheng", "baseline", ["scenario.scale=0.2", "n_replicates=3", "executor=dask", f"executor.address={cluster}",
                                             "executor.timeout=20"])
    assert cfg.executor.name == "dask" and cfg.executor.address == cluster
    on_dask = ensemble.run_ensemble(cfg)
    serial = ensemble.run_ensemble(compose("liaocheng", "baseline", ["scenario.scale=0.2", "n_replicates=3", "executor=serial"]))
    for a, b in zip(on_dask, serial):
        np.testing.assert_array_equal(a.stock, b.stock)
        np.testing.assert_array_equal(a.flows, b.flows)
        assert a.cost == b.cost
        pd.testing.assert_frame_equal(pd.DataFrame(a.batches), pd.DataFrame(b.batches))  # NaN capacities compare equal


def test_unreachable_scheduler_fails_with_one_line():
    from sim.core.schema import ConfigError
    from sim.run.executors import make_executor

    port = _free_port()  # nothing listens there
    with pytest.raises(ConfigError) as e, make_executor("dask", address=f"tcp://127.0.0.1:{port}", timeout=1) as ex:
        list(ex.imap(pow, [(2, 2)]))
    assert str(e.value).startswith(f"executor.address: 'tcp://127.0.0.1:{port}' is not allowed") and "\n" not in str(e.value)


def test_trim_threshold_warning_names_the_fix():
    assert trim_warning({"tcp://a": None, "tcp://b": None}) == ""
    msg = trim_warning({"tcp://a": "65536", "tcp://b": None})
    assert msg.startswith("1 Dask worker(s) run with MALLOC_TRIM_THRESHOLD_=65536") and "--no-nanny" in msg and "\n" not in msg
