"""Training in a child process, so the caller's event loop stays free (heartbeats,
cancels) and a training can be stopped at any point.

    result = await train_in_child(spec, dataset, on_progress, cancel=event)

- The child is a multiprocessing daemon process (it dies with a worker that exits),
  started by default from a fork server that has loaded numpy, scikit-learn, skl2onnx
  and ONNX Runtime once (warm.py): a child then starts in ~0.1 s instead of importing
  them for ~2 s. The fork server is a fresh single-threaded process, so nothing forks a
  process that runs an event loop or threads. start_method="spawn" starts every child
  from scratch instead. Either way the caller's __main__ module must be import-safe
  (the usual `if __name__ == "__main__":` idiom), as multiprocessing re-imports it.
- Progress goes back over a one-way pipe and is delivered to `on_progress` (a function
  or a coroutine function) in the parent.
- Setting `cancel` terminates the child (SIGTERM, SIGKILL after `kill_timeout_s`) and
  raises TrainingCancelled; cancelling the awaiting task stops the child the same way.
- A domain error raised in the child (InvalidArgument, ParityError…) is raised again in
  the parent with its type, message and details; any other exception becomes Internal;
  a child that ends without an answer raises TrainingCrashed with its exit code.
- Thread pools are limited to `threads` (OMP/BLAS env vars set before the child loads
  numpy, threadpoolctl after, n_jobs of forests, ONNX Runtime intra-op threads).
- The child exits by itself when its parent disappears (a SIGKILLed worker).

This module imports neither numpy nor scikit-learn: the child loads them only after it
has set its thread limits.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from servers.contracts.ml.datasets import CsvFile
from servers.contracts.ml.spec import Dataset, TrainingSpec
from servers.runtime.errors import ChatDBError, Internal

from .errors import TrainingCancelled, TrainingCrashed

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from .parity import ParityThresholds
    from .trainer import TrainResult

log = logging.getLogger("chatdb.ml_engine")

OnProgress = Callable[[float, str], Awaitable[None] | None]
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                   "NUMEXPR_NUM_THREADS")
PARENT_CHECK_INTERVAL_S = 0.5
START_METHODS = ("forkserver", "spawn")
_START_LOCK = threading.Lock()  # multiprocessing's bookkeeping of children is not thread-safe


async def train_in_child(
    spec: TrainingSpec,
    dataset: Dataset | CsvFile,
    on_progress: OnProgress | None = None,
    cancel: asyncio.Event | None = None,
    kill_timeout_s: float = 3,
    *,
    threads: int = 1,
    parity: ParityThresholds | None = None,
    start_method: str = "forkserver",
) -> TrainResult:
    """Run trainer.train(spec, dataset) in a child process; see the module docstring."""
    if cancel is not None and cancel.is_set():
        raise TrainingCancelled("training cancelled before it started")
    loop = asyncio.get_running_loop()
    context = _context(start_method)
    receiver, sender = context.Pipe(duplex=False)
    limits = None if parity is None else (parity.min_label_agreement, parity.max_abs_diff, parity.max_rel_diff)
    process = context.Process(
        target=_child_main,
        args=(sender, spec, dataset, max(1, threads), limits),
        name=f"chatdb-train-{spec.model_name}",
        daemon=True,
    )
    watches = _Watches(loop, receiver, process)
    starting = asyncio.ensure_future(asyncio.to_thread(_start, process))
    try:
        await asyncio.shield(starting)
        sender.close()  # the child holds the write end now: EOF when it is gone
        watches.watch_pipe()
        watches.watch_exit()
        return await _follow(process, watches.messages, watches.exited, on_progress, cancel, kill_timeout_s)
    finally:
        if not starting.done():  # cancelled while starting: let the start finish, then stop
            await asyncio.wait([starting])
        watches.unwatch(watches.receiver_fd)
        if process.pid is not None and process.exitcode is None:
            if process.sentinel not in watches.watching and not watches.exited.is_set():
                watches.watch_exit()
            await _stop(process, watches.exited, kill_timeout_s)
        watches.unwatch_all()
        receiver.close()
        sender.close()
        if process.pid is not None:
            process.join(0)  # reap: no zombie left behind


class _Watches:
    """The event loop's readers on the child's pipe (its messages go to `messages`) and
    on its exit (sets `exited`)."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, receiver: Connection, process: multiprocessing.process.BaseProcess
    ) -> None:
        self.loop = loop
        self.receiver = receiver
        self.receiver_fd = receiver.fileno()
        self.process = process
        self.messages: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.exited = asyncio.Event()
        self.watching: list[int] = []

    def watch_pipe(self) -> None:
        self.loop.add_reader(self.receiver_fd, self._readable)
        self.watching.append(self.receiver_fd)

    def watch_exit(self) -> None:
        self.loop.add_reader(self.process.sentinel, self._ended)
        self.watching.append(self.process.sentinel)

    def unwatch(self, fd: int) -> None:
        if fd in self.watching:
            self.loop.remove_reader(fd)
            self.watching.remove(fd)

    def unwatch_all(self) -> None:
        for fd in list(self.watching):
            self.unwatch(fd)

    def _readable(self) -> None:
        try:
            while self.receiver.poll():
                self.messages.put_nowait(self.receiver.recv())
        except (EOFError, OSError):
            self.unwatch(self.receiver_fd)
            self.messages.put_nowait(("eof",))

    def _ended(self) -> None:
        self.unwatch(self.process.sentinel)
        self.exited.set()


async def _follow(
    process: multiprocessing.process.BaseProcess,
    messages: asyncio.Queue[tuple[Any, ...]],
    exited: asyncio.Event,
    on_progress: OnProgress | None,
    cancel: asyncio.Event | None,
    kill_timeout_s: float,
) -> TrainResult:
    """Deliver the child's messages until its result, error, death or a cancel."""
    cancelled = asyncio.ensure_future(cancel.wait()) if cancel is not None else None
    next_message: asyncio.Future[tuple[Any, ...]] | None = None
    try:
        while True:
            next_message = asyncio.ensure_future(messages.get())
            await asyncio.wait({next_message} | ({cancelled} if cancelled else set()),
                               return_when=asyncio.FIRST_COMPLETED)
            if cancelled is not None and cancelled.done():
                next_message.cancel()
                await _stop(process, exited, kill_timeout_s)
                raise TrainingCancelled("training cancelled")
            message = next_message.result()
            kind = message[0]
            if kind == "progress":
                if on_progress is not None:
                    outcome = on_progress(message[1], message[2])
                    if inspect.isawaitable(outcome):
                        await outcome
                continue
            # The child exits right after its answer; give it the time to.
            await _wait_exit(exited, kill_timeout_s)
            if kind == "result":
                return message[1]
            if kind == "error":
                raise _unpack(message[1])
            raise _crashed(process)  # "eof": gone without an answer
    finally:
        for waiter in (cancelled, next_message):
            if waiter is not None and not waiter.done():
                waiter.cancel()


def start_fork_server() -> None:
    """Start the fork server now (it then loads the ML stack in the background), so the
    first training does not wait for it. Blocking but short: call it from a worker's
    startup through asyncio.to_thread."""
    from multiprocessing import forkserver

    _context("forkserver")
    forkserver.ensure_running()


def _context(start_method: str) -> Any:
    if start_method not in START_METHODS:
        raise ValueError(f"start_method must be one of {', '.join(START_METHODS)}")
    context = multiprocessing.get_context(start_method)
    if start_method == "forkserver":
        context.set_forkserver_preload([f"{__package__}.warm"])
    return context


def _start(process: multiprocessing.process.BaseProcess) -> None:
    with _START_LOCK:
        try:
            process.start()
        except (pickle.PicklingError, TypeError, AttributeError) as exc:  # a value that cannot cross
            raise Internal(f"cannot start the training process: {exc}") from exc


async def _wait_exit(exited: asyncio.Event, timeout_s: float) -> bool:
    try:
        await asyncio.wait_for(exited.wait(), timeout_s)
        return True
    except TimeoutError:
        return False


async def _stop(process: multiprocessing.process.BaseProcess, exited: asyncio.Event, kill_timeout_s: float) -> None:
    """SIGTERM, then SIGKILL if the child is still there after kill_timeout_s."""
    if process.exitcode is not None:
        return
    try:
        process.terminate()
        if not await _wait_exit(exited, kill_timeout_s):
            log.warning("training child %s ignored SIGTERM for %.1f s; killing it", process.pid, kill_timeout_s)
            process.kill()
            await _wait_exit(exited, kill_timeout_s)
    except BaseException:
        process.kill()  # cancelled while stopping: do not leave it running
        raise
    finally:
        process.join(0)


def _crashed(process: multiprocessing.process.BaseProcess) -> TrainingCrashed:
    process.join(0)
    code = process.exitcode
    if code is not None and code < 0:
        try:
            how = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"killed by signal {-code}"
    else:
        how = f"exited with code {code}"
    return TrainingCrashed(f"training process {how} before it finished", metadata={"exit_code": str(code)})


def _unpack(payload: bytes) -> ChatDBError:
    try:
        error = pickle.loads(payload)
    except Exception as exc:  # should not happen: _pack checked it round-trips
        return Internal(f"training failed with an error that could not be read: {exc}")
    return error if isinstance(error, ChatDBError) else Internal(f"training failed: {error!r}")


def _pack(exc: BaseException) -> bytes:
    if isinstance(exc, ChatDBError):
        try:
            payload = pickle.dumps(exc)
            pickle.loads(payload)
            return payload
        except Exception:
            exc = Internal(exc.message, reason=exc.reason, metadata=exc.metadata)
    else:
        exc = Internal(f"training failed: {type(exc).__name__}: {exc}", metadata={"exception": type(exc).__name__})
    return pickle.dumps(exc)


# --- the child ----------------------------------------------------------------------------

def _child_main(
    conn: Connection, spec: TrainingSpec, dataset: Dataset | CsvFile, threads: int,
    limits: tuple[float, float, float] | None,
) -> None:
    for name in THREAD_ENV_VARS:  # effective when numpy is not loaded yet (spawn)
        os.environ[name] = str(threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent to handle
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True, name="parent-watch").start()
    try:
        from threadpoolctl import threadpool_limits

        from .parity import DEFAULT_THRESHOLDS, ParityThresholds
        from .trainer import train

        thresholds = DEFAULT_THRESHOLDS if limits is None else ParityThresholds(*limits)
        if isinstance(dataset, CsvFile):
            dataset = dataset.load()
        with threadpool_limits(limits=threads):
            result = train(spec, dataset, lambda fraction, stage: conn.send(("progress", fraction, stage)),
                           threads=threads, parity=thresholds)
        conn.send(("result", result))
    except BaseException as exc:
        if not isinstance(exc, ChatDBError):
            traceback.print_exc(file=sys.stderr)
        try:
            conn.send(("error", _pack(exc)))
        except OSError:
            pass  # the parent is gone
    finally:
        conn.close()
        # Skip the interpreter's teardown of the ML stack (~0.5 s): nothing is left to flush
        # but the standard streams.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _exit_with_parent(parent_pid: int) -> None:
    """Exit when the parent changes: the worker (spawn) or the fork server (which exits
    with the worker) is gone."""
    while True:
        time.sleep(PARENT_CHECK_INTERVAL_S)
        if os.getppid() != parent_pid:
            os._exit(70)
