"""Helpers for the entry points: one-line config errors, the overrides that compose a run,
and the schema of entry points whose config is config.yaml plus keys of their own
(experiments/compare.py, experiments/sensitivity.py)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from sim.config.compose import hydra_errors, register
from sim.config.overrides import config_dir
from sim.core.errors import InputWarning, UserError, one_line
from sim.pipelines.folders import SIGNALS, Interrupted, RunFolder, reserve, signals_as_interrupts

DEBUG_ENV = "TIERSIM_DEBUG"  # =1: a user error shows its traceback instead of its one line


@contextlib.contextmanager
def outside_hydra():
    """Let Hydra's compose API run inside a running Hydra app (``sim.compose``): set the
    app's global state aside and put it back afterwards."""
    from hydra.core.global_hydra import GlobalHydra

    saved = GlobalHydra.instance().hydra
    GlobalHydra.instance().clear()
    try:
        yield
    finally:
        GlobalHydra.instance().clear()
        if saved is not None:
            GlobalHydra.instance().initialize(saved)


def compose_entry(config_name: str, node: type, overrides: list[str]) -> dict:
    """The entry's composed config as a plain dict (Hydra's compose API, no run directory)."""
    from hydra import compose, initialize_config_dir

    register(node)
    with hydra_errors(), initialize_config_dir(config_dir=str(config_dir()), version_base=None):
        cfg = compose(config_name=config_name, overrides=overrides)
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


def split(container: dict, keys: tuple[str, ...]) -> tuple[dict, dict]:
    """(entry options, run configuration) of a composed entry config."""
    opts = {k: container.pop(k) for k in keys if k in container}
    return opts, container


def key_of(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Input warnings as one ``warning: <message>`` line on stderr; others as Python shows them."""
    if issubclass(category, InputWarning):
        print(f"warning: {one_line(message)}", file=sys.stderr)
    else:
        _python_show(message, category, filename, lineno, file, line)


_python_show = warnings.showwarning


def report(e: Exception) -> int:
    """Print ``error: <one line>`` for a user error and return exit status 2; with
    ``TIERSIM_DEBUG=1`` re-raise it instead (the traceback shows)."""
    if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
        raise e
    print(f"error: {one_line(e)}", file=sys.stderr)
    return 2


@contextlib.contextmanager
def one_line_errors():
    """A user error (:class:`~sim.core.errors.UserError`: a bad config value, override, data
    file, posterior, scheduler address) anywhere inside ends the command with its one-line
    message on stderr, ``error: <message>``, and exit status 2, without a traceback (before
    Hydra creates an output directory, where used in ``main``); with ``TIERSIM_DEBUG=1`` it is
    re-raised, traceback and all.  Input warnings inside print as ``warning: <message>``."""
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            yield
        except UserError as e:
            sys.exit(report(e))


def config_overrides(args: list[str]) -> list[str]:
    """The ``key=value`` overrides of a command line that compose a RunConfig (not flags,
    not ``hydra.*``)."""
    return [a for a in args if "=" in a and not a.startswith(("-", "hydra"))]


def hydra_handles(args: list[str]) -> bool:
    """True where Hydra's own machinery must run the command: a flag (``-m``/``--multirun``
    for launchers and sweepers, ``--cfg``, ``--help``, ``--info``, ...)."""
    return any(a.startswith("-") for a in args)


def compose_single(config_name: str, node: type, overrides: list[str]) -> tuple[dict, Any]:
    """Compose a single run **once** (Hydra's compose API, with its ``hydra`` node): returns
    (the plain job config, the hydra node).  Nothing is written: validate the job config,
    then make the run folder with :func:`make_run_dir`."""
    from hydra import compose, initialize_config_dir
    from omegaconf import open_dict

    register(node)
    with hydra_errors():  # what Hydra cannot merge or resolve: one line
        with initialize_config_dir(config_dir=str(config_dir()), version_base=None):
            cfg = compose(config_name=config_name, overrides=overrides, return_hydra_config=True)
        hydra_node = cfg.hydra
        with open_dict(cfg):
            del cfg["hydra"]
        return OmegaConf.to_container(cfg, resolve=True), hydra_node  # type: ignore[return-value]


def write_hydra_record(folder: Path, hydra_node: Any, job: dict, overrides: list[str]) -> None:
    """Hydra's ``.hydra/`` record of a run in ``folder``: config.yaml (the composed job config),
    hydra.yaml, overrides.yaml — what ``@hydra.main`` writes."""
    rec = folder / str(hydra_node.output_subdir or ".hydra")
    rec.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(OmegaConf.create(job), rec / "config.yaml")
    OmegaConf.save(OmegaConf.create({"hydra": OmegaConf.to_container(hydra_node, resolve=False)}), rec / "hydra.yaml")
    OmegaConf.save(OmegaConf.create(list(overrides)), rec / "overrides.yaml")


def make_run_dir(hydra_node: Any, job: dict, overrides: list[str]) -> RunFolder:
    """Reserve the run folder ``hydra.run.dir`` (resolved now, as ``@hydra.main`` would) by the
    run-folder protocol (:mod:`sim.pipelines.folders`): a name another run holds or has
    filled gets a suffix (``<dir>_2``, ...), so two runs never mix.  Hydra's ``.hydra/`` record
    goes into the temporary folder with the run's files.  Use as a context manager around the
    run: the folder appears, complete, when the block ends, and not at all if it raises or is
    interrupted."""
    folder = reserve(str(hydra_node.run.dir), unique=True, field="hydra.run.dir")
    try:
        write_hydra_record(folder.path, hydra_node, job, overrides)
    except BaseException:
        folder.discard()
        raise
    return folder


def make_sweep_dir(hydra_node: Any, job: dict, overrides: list[str]) -> str:
    """A design sweep's folder ``hydra.run.dir`` (= ``sweep.dir`` when given), made in place with
    Hydra's record: sweeps resume in place (atomic job files, one design per folder), so they do
    not take the hidden-folder protocol of single runs."""
    out = Path(str(hydra_node.run.dir))
    write_hydra_record(out, hydra_node, job, overrides)
    return str(out)


# what an interrupted run through ``@hydra.main`` (``-m``, Hydra's flags) keeps
HYDRA_KEPT = "the folders of finished jobs (Hydra's, written in place; the interrupted job's may be partial)"


class Interrupts:
    """What :func:`interrupts` reports when a signal ends the command: set ``kept`` to the
    folder once it is in place (or to a note of what a multirun keeps)."""

    kept: str | None = None


@contextlib.contextmanager
def interrupts() -> Iterator[Interrupts]:
    """SIGINT or SIGTERM inside ends the command with one line on stderr (``interrupted;
    nothing written``, or what was kept) and exit status 130 / 143, no traceback.  The
    run-folder protocol has removed the temporary folder by then; joblib and Dask stop their
    workers on the KeyboardInterrupt on the way out."""
    state = Interrupts()
    saved = {s: signal.getsignal(s) for s in SIGNALS}
    try:
        with signals_as_interrupts():
            yield state
    except KeyboardInterrupt as e:
        for s in SIGNALS:  # a second Ctrl-C must not turn the one line into a traceback
            signal.signal(s, signal.SIG_IGN)
        try:
            print(f"interrupted; {'kept ' + state.kept if state.kept else 'nothing written'}", file=sys.stderr, flush=True)
        finally:  # the handlers of before (main() may run inside a longer-lived process: tests)
            for s, handler in saved.items():
                if handler is not None:
                    signal.signal(s, handler)
        sys.exit(e.exit_code if isinstance(e, Interrupted) else 130)


def run_in_folder(hydra_node: Any, job: dict, args: list[str], run: Callable[[RunFolder], Any],
                  report: Callable[[Any, str], None]) -> None:
    """A validated single run: ``run(folder)`` fills the reserved run folder (SIGINT/SIGTERM: one
    line, nothing left), the folder is put in place, then ``report(result, final folder)``."""
    with interrupts() as stop:
        with make_run_dir(hydra_node, job, args) as folder:
            result = run(folder)
        stop.kept = str(folder.final)
        report(result, stop.kept)


def hand_over_to_hydra(args: list[str], hydra_main: Callable[[], None], node: type | None = None,
                       kept: str = HYDRA_KEPT) -> None:
    """Run ``hydra_main`` (an ``@hydra.main`` function) on ``args`` (``-m`` sweeps, launchers,
    Hydra's flags) with ``node`` as the schema; an interrupt prints one line naming ``kept``."""
    sys.argv[1:] = args
    register(node) if node is not None else register()
    with interrupts() as stop:
        stop.kept = kept
        hydra_main()
