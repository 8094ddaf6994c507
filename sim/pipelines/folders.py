"""Run folders: a run's folder appears complete, or not at all, and never mixes two runs.

The protocol (one place for it; every pipeline that writes a folder goes through
:func:`run_folder`):

1. **Reserve** (:func:`reserve`, after the input is validated, before the run): the final
   name is claimed by the exclusive creation (``O_CREAT | O_EXCL``) of a hidden claim file
   ``.<name>.lock`` next to it, holding ``<pid> <host>``.  The exclusive create decides
   between two runs that resolve to the same name.  A name is *taken* when another live run
   holds its claim, or when the folder exists and holds files.  Then ``unique=True`` (the
   Hydra entry points: ``hydra.run.dir``) moves on to ``<name>_2``, ``<name>_3``, ...; otherwise
   (``sim.forecast(out_dir=...)`` and the pipelines called from Python) the run is refused
   with one line — unless ``overwrite=True`` or ``same(folder)`` says the folder holds this
   very run (then the old folder is replaced as a whole at the end).  A claim whose process
   is gone (same host) is stale and taken over.
2. **Write** into the hidden temporary sibling ``.<name>.tmp-<pid>-<random>``
   (:attr:`RunFolder.path`).  Paths recorded in files and printed (figures, ``results:``) are
   the final ones (:meth:`RunFolder.public`).
3. **Commit** (success): ``os.rename`` of the temporary folder onto the final name — atomic on
   one filesystem; the claim is released.
4. **Discard** (any exception, SIGINT, SIGTERM): the temporary folder is removed, the claim
   released, the exception goes on.  Nothing is kept: no run resumes from a partial folder
   (every run gets a fresh one, and files are written only after the model has run), so a
   partial folder would only be clutter.  Signals are held off while committing or
   discarding, so neither is cut in half.

Only a process killed outright (SIGKILL, power loss) leaves its hidden ``.<name>.tmp-*`` and
``.<name>.lock`` behind; never a visible half folder.  Both may be deleted.

A folder somebody else made and owns (a Hydra ``--multirun`` job directory, made by the
launcher before the job runs) is written in place: :func:`in_place`.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import shutil
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sim.core.schema import ConfigError

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM turned into an exception, so that ``finally`` blocks (and the folder
    protocol) run.  A KeyboardInterrupt, so libraries that stop their workers on Ctrl-C
    (joblib/loky, Dask) do the same on SIGTERM."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 + the signal number (130 SIGINT, 143 SIGTERM)."""
        return 128 + self.signum


@contextlib.contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """Inside, SIGINT and SIGTERM raise :class:`Interrupted` (SIGTERM would otherwise end the
    process without running any cleanup), unless the process ignores them.  A no-op outside
    the main thread, where Python cannot set handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_interrupted(signum: int, _frame: object) -> None:
        raise Interrupted(signum)

    # a signal the process was started ignoring (``nohup``, a shell's background job) stays ignored
    saved = {s: signal.signal(s, raise_interrupted) for s in SIGNALS if signal.getsignal(s) != signal.SIG_IGN}
    try:
        yield
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT/SIGTERM back while a reservation, a commit or a discard runs, so none is cut
    in half: a signal that arrives meanwhile is noted and raised again when this ends (to the
    handler in force then).  Handlers, not a signal mask: Python runs its handlers in the main
    thread whichever thread the kernel picked, so a mask on one thread would not hold them."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    saved = {s: signal.signal(s, lambda signum, _frame: pending.append(signum)) for s in SIGNALS
             if signal.getsignal(s) != signal.SIG_IGN}
    try:
        yield
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)
        if pending:
            signal.raise_signal(pending[0])


def _fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (best effort: not every filesystem allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --------------------------------------------------------------------------- claims
def _lock_path(final: Path) -> Path:
    return final.with_name(f".{final.name}.lock")


def _holder(lock: Path) -> str:
    with contextlib.suppress(OSError):
        return lock.read_text(encoding="utf-8").strip()
    return ""


def _is_stale(holder: str) -> bool:
    """A claim of a process of this host that no longer runs (another host's: never stale)."""
    pid, _, host = holder.partition(" ")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def _claim(final: Path) -> Path | None:
    """Claim ``final`` by the exclusive creation of its lock file; the lock's path, or None if
    another live run holds it.  A stale claim is taken over once."""
    lock = _lock_path(final)
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if not _is_stale(_holder(lock)):
                return None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(lock)
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()} {socket.gethostname()}\n")
        return lock
    return None


def _release(lock: Path | None) -> None:
    if lock is not None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)


def holds_files(path: Path) -> bool:
    """True if ``path`` exists and is not an empty folder (a run's name is free otherwise)."""
    if not path.exists() and not path.is_symlink():
        return False
    if not path.is_dir() or path.is_symlink():
        return True
    return any(os.scandir(path))


# --------------------------------------------------------------------------- the folder
@dataclass
class RunFolder:
    """A run folder being written: ``path`` is where files go now, ``final`` where the folder
    will be.  Use as a context manager: commit on success, discard on any exception."""

    final: Path
    path: Path
    lock: Path | None = None
    replace: bool = False  # the final folder holds files to be replaced as a whole (overwrite / same run)
    committed: bool = False

    @property
    def temporary(self) -> bool:
        """False for a folder written in place (:func:`in_place`)."""
        return self.path != self.final

    def public(self, p: str | os.PathLike) -> Path:
        """The path ``p`` (written under :attr:`path`) will have once the folder is in place."""
        rel = Path(p).relative_to(self.path)
        return self.final / rel

    def sub(self, name: str) -> RunFolder:
        """A subfolder, written and committed as part of this folder (e.g. a back-test's
        ``calibration/``)."""
        return RunFolder(final=self.final / name, path=self.path / name)

    def commit(self) -> Path:
        """Rename the temporary folder into place; returns the final path."""
        if self.temporary and not self.committed:
            with _signals_held():
                if self.replace and holds_files(self.final):
                    aside = self.final.with_name(f".{self.final.name}.old-{os.getpid()}-{secrets.token_hex(4)}")
                    os.rename(self.final, aside)
                    os.rename(self.path, self.final)
                    shutil.rmtree(aside, ignore_errors=True)
                else:
                    os.rename(self.path, self.final)  # onto nothing, or onto an empty folder
                _fsync_dir(self.final.parent)
                _release(self.lock)
        self.committed = True
        return self.final

    def discard(self) -> None:
        """Remove the temporary folder and release the claim (the final folder is untouched)."""
        if self.temporary and not self.committed:
            with _signals_held():
                shutil.rmtree(self.path, ignore_errors=True)
                _release(self.lock)

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(self, exc_type: type | None, *_: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


def in_place(path: str | os.PathLike) -> RunFolder:
    """A folder another tool made and owns (a Hydra multirun job's directory): written in
    place, nothing renamed or removed."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    return RunFolder(final=p, path=p, committed=True)


def reserve(final: str | os.PathLike, *, unique: bool = False, overwrite: bool = False,
            same: Callable[[Path], bool] | None = None, field: str = "out_dir") -> RunFolder:
    """Claim a run folder at ``final`` (``unique``: or the first free ``<final>_<n>``) and make
    its temporary sibling.  Without ``unique``, a ``final`` that holds files is refused (one-line
    ConfigError naming ``field``) unless ``overwrite`` or ``same(final)``; one that another run
    is writing is always refused."""
    folder: RunFolder | None = None
    try:
        with _signals_held():  # a claim is never left without its temporary folder, nor the reverse
            folder = _reserve(Path(final), unique, overwrite, same, field)
    except BaseException:  # a signal held off above is raised when the hold ends
        if folder is not None:
            folder.discard()
        raise
    return folder


def _reserve(final: Path, unique: bool, overwrite: bool, same: Callable[[Path], bool] | None, field: str) -> RunFolder:
    final.parent.mkdir(parents=True, exist_ok=True)
    for n in itertools.count(1):
        name = final if n == 1 else final.with_name(f"{final.name}_{n}")
        if unique and holds_files(name):
            continue
        lock = _claim(name)
        if lock is None:
            if unique:
                continue
            raise ConfigError(f"{field}: '{final}' is being written by another run ({_holder(_lock_path(name)) or 'pid unknown'}) "
                              "(allowed: a folder no other run is writing)")
        occupied = holds_files(name)  # checked again under the claim: a run may have just committed there
        if occupied and (unique or not name.is_dir() or not (overwrite or (same is not None and same(name)))):
            _release(lock)
            if unique:
                continue
            what = "is not a folder" if not name.is_dir() else "already holds another run's files"
            raise ConfigError(f"{field}: '{final}' {what} (allowed: a new or empty folder, the same run's "
                              "previous folder, or overwrite=True to replace it)")
        try:
            tmp = _mkdtemp(name)
        except BaseException:
            _release(lock)
            raise
        return RunFolder(final=name, path=tmp, lock=lock, replace=occupied)
    raise AssertionError("unreachable")


def _mkdtemp(final: Path) -> Path:
    """``.<name>.tmp-<pid>-<random>`` next to ``final``, made exclusively (mode 0755 less the
    umask, unlike tempfile's 0700: a run folder is readable like any other once renamed)."""
    while True:
        tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            os.mkdir(tmp, 0o755)
        except FileExistsError:
            continue
        return tmp


@contextlib.contextmanager
def run_folder(out_dir: str | os.PathLike | RunFolder | None, *, unique: bool = False, overwrite: bool = False,
               same: Callable[[Path], bool] | None = None) -> Iterator[RunFolder | None]:
    """The folder a pipeline writes into.  ``None``: no folder (yields None).  A
    :class:`RunFolder` (an entry point or an outer pipeline opened it): used as it is, its
    owner commits it.  A path: reserved here (:func:`reserve`), committed when the block
    ends, discarded if it raises."""
    if out_dir is None:
        yield None
    elif isinstance(out_dir, RunFolder):
        out_dir.path.mkdir(parents=True, exist_ok=True)
        yield out_dir
    else:
        with reserve(out_dir, unique=unique, overwrite=overwrite, same=same) as folder:
            yield folder
