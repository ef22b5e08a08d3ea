"""Worker processes that never outlive their run, and runs that stop cleanly on SIGTERM or SIGINT.

A worker waiting on a pipe (for its next job, or for room to hand back a result nobody reads any more) never
learns that its parent was killed: it would sit there, holding hundreds of MB, until someone kills it by hand.
``die_with_parent`` (called first thing in a worker's initialiser) asks Linux to kill the worker as soon as its
parent dies. ``stop_on_signals`` turns SIGTERM and SIGINT in the parent into an ``Interrupted`` exception, so the
run's own cleanup (stopping its workers, closing its files) happens before it exits. Once stopping, a worker may
die while it hands the parent a tensor through multiprocessing's resource sharer, whose thread in the parent then
reports a reset connection with a traceback (through ``sys.excepthook``); from the signal on, such connection
errors are logged at debug level instead, since they are the stop the user asked for.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


class Interrupted(BaseException):
    """SIGTERM or SIGINT asked the run to stop. A BaseException, like KeyboardInterrupt, so that the handlers
    that turn one file's failure into an error record (``except KavanError``/``Exception``) never swallow it."""

    def __init__(self, signum: int):
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        super().__init__(f"interrupted by {self.signal_name}")

    @property
    def exit_code(self) -> int:
        """128 + the signal number, the shell's convention for a run ended by a signal."""
        return 128 + self.signum


def die_with_parent(parent_pid: int, sig: int = signal.SIGKILL) -> None:
    """Have this (worker) process killed with ``sig`` when its parent dies, and exit now if it already has.

    Linux only (prctl PR_SET_PDEATHSIG; elsewhere only the check that the parent is still there is done). The
    kernel sends the signal when the *thread* that started the worker ends, so start workers from a thread that
    lives as long as they are needed (the main thread of the commands). ``parent_pid`` is the parent's pid taken
    before the worker started: a parent that died before this call has already handed the worker to another
    process, and no signal would ever come.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
                log.debug("prctl(PR_SET_PDEATHSIG) failed: %s", os.strerror(ctypes.get_errno()))
        except (OSError, AttributeError) as err:  # no libc to load: keep the check below
            log.debug("prctl unavailable: %s", err)
    if os.getppid() != parent_pid:
        os._exit(1)  # the parent is gone already; nobody will read what this worker would do


def ignore_interrupts() -> None:
    """For workers: Ctrl-C reaches the whole process group, and the parent alone decides how the run stops (it
    stops its workers itself); a worker's own KeyboardInterrupt would only print a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def stop_on_signals(signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)) -> Iterator[None]:
    """Within the block, the first SIGTERM or SIGINT raises ``Interrupted`` in the main thread; a second one
    takes the signal's default action, so a shutdown that hangs can still be stopped (workers then die with
    their parent). The previous handlers come back on leaving. Outside the main thread (where Python cannot
    set handlers) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in signals}

    def interrupt(signum: int, _frame) -> None:
        for sig in signals:
            signal.signal(sig, signal.SIG_DFL)
        sys.excepthook = _quiet_connection_errors(sys.excepthook)
        raise Interrupted(signum)

    for sig in signals:
        signal.signal(sig, interrupt)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)


def _quiet_connection_errors(hook: Callable) -> Callable:
    """``hook`` that logs a connection error (a worker gone mid-handover while the run stops) at debug level and
    passes every other error on."""
    def quiet(kind, value, traceback) -> None:
        if issubclass(kind, ConnectionError):
            log.debug("while stopping: %s: %s (a worker ended mid-handover)", kind.__name__, value)
            return
        hook(kind, value, traceback)
    return quiet


def _loader_worker(parent_pid: int, _worker_id: int) -> None:
    die_with_parent(parent_pid)
    ignore_interrupts()


def loader_worker_init() -> Callable[[int], None]:
    """A DataLoader ``worker_init_fn`` for the calling process's loaders: its workers die with it and leave Ctrl-C
    to it. Call it in the process that creates the loader (it records that process's pid)."""
    return functools.partial(_loader_worker, os.getpid())
