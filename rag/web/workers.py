"""Answers computed in worker processes, one per core, so that every core answers.

An answer is CPU-bound Python: in threads of one process the GIL holds any number of
them to about one core (benchmarks/RESULTS.md, "Many users"). ``WorkerPool`` keeps
``processes`` worker processes, each with its own embedder and its own loaded copy of
the generation the app serves, and hands them questions in arrival order (FIFO, so a
question waits for the ones asked before it and no longer).

- Workers are spawned, not forked: ONNX Runtime's sessions and threads do not survive
  a fork. Each loads its embedder (``embedder_factory``) and then ``Index.load`` of the
  generation folder the app serves, in the background: until a worker has loaded it,
  its share of the questions is answered in the app's process, as with one process.
- Each question carries the index the app served when it was asked; a worker answers
  it only if it has loaded exactly that generation, so no answer comes from another
  generation or from a half-loaded index. When the app swaps generations (lexical,
  then hybrid; a rebuild; a rollback), each worker drops its index and loads the new
  one, and the app answers meanwhile.
- A worker that dies fails the one question it held with :class:`WorkerLost` (the API
  answers 503) and is started again; a worker still running when the app exits is
  stopped, and a worker whose app is gone (killed) exits by itself.

What runs in a worker is a module-level function of this module (``answer_dict``,
``hit_dicts``, ``answer_of``), called with the worker's index and picklable arguments;
its result, or the error it raised, comes back pickled.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
import traceback
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Callable

from ..config import Config
from ..errors import QuestionError, RagError
from ..model.embedder import Embedder
from ..query.answer import Answer
from ..query.index import Index
from .reply import IndexHolder

log = logging.getLogger(__name__)

MAX_WAITING = 64        # questions waiting for a worker; past it, refused at once
POLL_S = 0.2            # seconds between an idle dispatcher's looks at the served index
REPLY_TIMEOUT_S = 300.0  # a worker silent this long on one question is stopped
RESTART_DELAY_S = (0.5, 30.0)  # first and longest pause before starting a dead worker again
STOP_TIMEOUT_S = 5.0    # seconds a worker has to exit when asked, before it is killed


def busy(waiting: int) -> str:
    """What a question refused past ``waiting`` waiting ones is told (pool and API)."""
    return f"the server is busy ({waiting} questions waiting); try again shortly"


class WorkerLost(RagError):
    """The worker answering a question stopped before it answered (or the app is
    stopping); the question can be asked again."""


class PoolBusy(RagError):
    """More questions are waiting than the pool takes (MAX_WAITING)."""


def default_processes() -> int:
    """Worker processes when ``server.processes`` is 0: one per core."""
    return os.cpu_count() or 1


# --- what runs in a worker ---------------------------------------------------------------

def answer_dict(index: Index, question: str, top_k: int | None = None,
                **options: Any) -> dict[str, Any]:
    """``Answer.to_dict()`` of ``index.answer(question, top_k, **options)``."""
    return index.answer(question, top_k, **options).to_dict()


def hit_dicts(index: Index, question: str, top_k: int | None = None,
              **filters: Any) -> list[dict[str, Any]]:
    """The ``to_dict()`` of each hit of ``index.search(question, top_k, **filters)``."""
    return [hit.to_dict() for hit in index.search(question, top_k, **filters).hits]


def answer_of(index: Index, question: str, top_k: int | None = None,
              **options: Any) -> Answer:
    """``index.answer(question, top_k, **options)`` itself, for the page to render."""
    return index.answer(question, top_k, **options)


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker process needs to answer like the app: picklable (it is sent to the
    spawned process). ``embedder_factory`` is a module-level callable, e.g.
    ``functools.partial(load_embedder, config.model)``."""

    config: Config
    embedder_factory: Callable[[], Embedder]


def _rss_mb() -> float | None:
    """This process's resident memory in MiB (Linux ``/proc``; None elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _exit_with_parent(parent: int) -> None:
    """Exit once the app's process is gone (killed, so it could not stop us): a
    worker busy loading an index would otherwise notice only when it next reads."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def worker_main(conn: Connection, spec: WorkerSpec, parent: int) -> None:
    """A worker process: load the embedder, then serve the app's messages until told
    to stop or the app is gone.

    Messages in: ``("load", gen_dir)``, ``("call", job, gen_dir, function, args,
    kwargs)``, ``("stop",)``. Out: ``("loaded", gen_dir, rss_mb)``, ``("load_failed",
    gen_dir, message)``, ``("done", job, result)``, ``("raised", job, kind, message)``
    with kind ``question``, ``rag`` or ``bug``.
    """
    # Ctrl-C reaches the whole process group; the app stops its workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True,
                     name="parent-watch").start()
    embedder = spec.embedder_factory()
    index: Index | None = None
    loaded: str | None = None  # the folder as the app named it
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the app is gone
        if message[0] == "stop":
            return
        if message[0] == "load":
            gen_dir = message[1]
            index = loaded = None  # drop the old generation first: never two in memory
            try:
                index, loaded = Index.load(gen_dir, embedder, spec.config), gen_dir
                conn.send(("loaded", gen_dir, _rss_mb()))
            except Exception as exc:  # reported, and the app answers meanwhile
                conn.send(("load_failed", gen_dir, f"{type(exc).__name__}: {exc}"))
            continue
        _, job, gen_dir, function, args, kwargs = message
        try:
            if index is None or loaded != gen_dir:
                raise RuntimeError(f"asked about {gen_dir}, loaded {loaded or 'nothing'}")
            conn.send(("done", job, function(index, *args, **kwargs)))
        except QuestionError as exc:
            conn.send(("raised", job, "question", str(exc)))
        except RagError as exc:
            conn.send(("raised", job, "rag", str(exc)))
        except Exception:
            conn.send(("raised", job, "bug", traceback.format_exc()))


# --- the app's side ----------------------------------------------------------------------

@dataclass
class _Job:
    """One question for the pool: what to call, on which index, and its outcome."""

    index: Index
    function: Callable[..., Any]
    args: tuple
    kwargs: dict
    future: Future = field(default_factory=Future)


@dataclass(frozen=True)
class WorkerStatus:
    """One worker as the app sees it."""

    slot: int
    pid: int | None        # None: not running (waiting to be started again)
    loaded: str | None     # the generation folder it answers from, None while loading
    answered: int          # questions it answered (its process, this run)
    local: int             # questions its dispatcher answered in the app's process
    restarts: int
    rss_mb: float | None   # resident memory after its last load


class _Worker:
    """One worker process and the dispatcher thread that feeds it: the thread takes the
    next question from the pool's queue and sends it to the process if that has loaded
    the question's generation, else answers it in the app's process."""

    def __init__(self, pool: WorkerPool, slot: int):
        self.pool, self.slot = pool, slot
        self.process: multiprocessing.process.BaseProcess | None = None
        self.conn: Connection | None = None
        self.loaded: str | None = None    # generation the process answers from
        self.loading: str | None = None   # generation it was asked to load
        self.failed: str | None = None    # generation it could not load (not retried)
        self.answered = self.local = self.restarts = 0
        self.rss_mb: float | None = None
        self._restart_at = 0.0
        self._delay = RESTART_DELAY_S[0]
        self.thread = threading.Thread(target=self._run, name=f"worker-{slot}", daemon=True)

    def status(self) -> WorkerStatus:
        alive = self.process is not None and self.process.is_alive()
        return WorkerStatus(self.slot, self.process.pid if alive else None, self.loaded,
                            self.answered, self.local, self.restarts, self.rss_mb)

    # The dispatcher thread: the only one that touches the process and its pipe.

    def _run(self) -> None:
        try:
            while not self.pool.closed:
                self._tend()
                try:
                    job = self.pool.jobs.get(timeout=POLL_S)
                except queue.Empty:
                    continue
                if job is None:  # close() wakes every dispatcher with one None
                    break
                if job.future.set_running_or_notify_cancel():
                    self._answer(job)
        finally:
            self._stop()

    def _tend(self) -> None:
        """Start the process if it is not running, read what it reported, and have it
        load the served generation if it has not."""
        if self.process is None or not self.process.is_alive():
            if self.process is not None:
                self._lost(f"exited with code {self.process.exitcode}")
            if time.monotonic() < self._restart_at:
                return
            self._start()
        while self.conn is not None and self._poll(0):
            self._read_report()
        served = str(self.pool.holder.index.path)
        if served not in (self.loaded, self.loading, self.failed) and self.conn is not None:
            self.conn.send(("load", served))
            self.loaded, self.loading = None, served

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")
        parent_end, child_end = context.Pipe(duplex=True)
        self.process = context.Process(
            target=worker_main, args=(child_end, self.pool.spec, os.getpid()),
            name=f"rag-worker-{self.slot}", daemon=True)
        self.process.start()
        child_end.close()
        self.conn = parent_end
        self.loaded = self.loading = self.failed = None

    def _lost(self, why: str) -> None:
        """Forget a process that stopped; start another after a pause that doubles
        while they keep stopping before loading anything."""
        log.warning("answer worker %d (pid %s) %s; starting another", self.slot,
                    self.process.pid if self.process else "?", why)
        if self.process is not None:
            self.process.join(timeout=1)
        if self.conn is not None:
            self.conn.close()
        self.restarts += 1
        self._restart_at = time.monotonic() + self._delay
        self._delay = min(self._delay * 2, RESTART_DELAY_S[1])
        self.process = self.conn = None
        self.loaded = self.loading = None

    def _poll(self, timeout: float) -> bool:
        try:
            return self.conn.poll(timeout)
        except (EOFError, OSError):
            return False

    def _read_report(self) -> None:
        """One message of the process outside a question: a load's outcome."""
        try:
            message = self.conn.recv()
        except (EOFError, OSError):
            return  # it died: the next _tend notices
        if message[0] == "loaded" and message[1] == self.loading:
            self.loaded, self.loading, self.rss_mb = message[1], None, message[2]
            self._delay = RESTART_DELAY_S[0]
            if self.pool.progress:
                print(f"answer worker {self.slot} (pid {self.process.pid}) ready: "
                      f"{message[1]} ({message[2] or 0:.0f} MiB resident)", file=sys.stderr,
                      flush=True)
        elif message[0] == "load_failed":
            log.warning("answer worker %d cannot load %s (%s); the app answers its share",
                        self.slot, message[1], message[2])
            self.loading, self.failed = None, message[1]

    def _answer(self, job: _Job) -> None:
        gen_dir = str(job.index.path)
        try:
            if self.conn is not None and self.loaded == gen_dir:
                result = self._remote(job, gen_dir)
                self.answered += 1
            else:
                result = job.function(job.index, *job.args, **job.kwargs)
                self.local += 1
        except BaseException as exc:  # the question's own error goes to whoever asked
            job.future.set_exception(exc)
        else:
            job.future.set_result(result)

    def _remote(self, job: _Job, gen_dir: str) -> Any:
        """The worker's answer to one question.

        Raises:
            WorkerLost: it died (or stayed silent past REPLY_TIMEOUT_S) meanwhile.
            QuestionError, RagError: what the function raised there.
        """
        number = next(self.pool.numbers)
        try:
            self.conn.send(("call", number, gen_dir, job.function, job.args, job.kwargs))
        except OSError:
            pass  # it died: found below
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        while True:
            ready = wait([self.conn, self.process.sentinel], timeout=POLL_S)
            if self.conn in ready:
                try:
                    message = self.conn.recv()
                except (EOFError, OSError):
                    message = None
                if message is not None and message[0] in ("done", "raised") \
                        and message[1] == number:
                    break
                if message is not None:
                    continue  # nothing else is expected while it answers
            if self.conn not in ready and self.process.is_alive() \
                    and time.monotonic() < deadline:
                continue
            pid = self.process.pid
            if self.process.is_alive():
                self.process.kill()
                self.process.join(timeout=STOP_TIMEOUT_S)
            self._lost("stopped while answering a question")
            raise WorkerLost(f"the worker process answering this question (pid {pid}) "
                             "stopped before it answered; it is being restarted: ask again")
        if message[0] == "done":
            return message[2]
        kind, text = message[2], message[3]
        if kind == "question":
            raise QuestionError(text)
        if kind == "rag":
            raise RagError(text)
        log.error("answer worker %d failed on a question:\n%s", self.slot, text)
        raise RuntimeError(text.strip().splitlines()[-1])

    def _stop(self) -> None:
        """Ask the process to exit; kill it if it does not within STOP_TIMEOUT_S."""
        if self.process is None:
            return
        if self.conn is not None:
            try:
                self.conn.send(("stop",))
            except OSError:
                pass
        self.process.join(timeout=STOP_TIMEOUT_S)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=STOP_TIMEOUT_S)
        if self.conn is not None:
            self.conn.close()


class WorkerPool:
    """``processes`` worker processes answering from the index ``holder`` serves,
    questions taken in arrival order. Start with :meth:`start`, stop with
    :meth:`close` (also a context manager).

    Args:
        holder: what the app serves (``rag.web.app.AppState``); followed as it swaps.
        spec: the config and embedder factory each worker loads with.
        processes: how many workers (at least 1).
        progress: say on stderr when a worker is ready (its generation and memory).
    """

    def __init__(self, holder: IndexHolder, spec: WorkerSpec, processes: int,
                 progress: bool = False):
        if processes < 1:
            raise ValueError(f"processes = {processes} must be at least 1")
        self.holder, self.spec, self.progress = holder, spec, progress
        self.jobs: queue.Queue[_Job | None] = queue.Queue()
        self.numbers = itertools.count()
        self.closed = False
        self._workers = [_Worker(self, slot) for slot in range(processes)]

    def start(self) -> WorkerPool:
        for worker in self._workers:
            worker.thread.start()
        return self

    def __enter__(self) -> WorkerPool:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def processes(self) -> int:
        return len(self._workers)

    def statuses(self) -> list[WorkerStatus]:
        return [worker.status() for worker in self._workers]

    def submit(self, function: Callable[..., Any], *args: Any, index: Index | None = None,
               **kwargs: Any) -> Future:
        """Queue ``function(index, *args, **kwargs)`` for the next free worker; its
        Future has the result, or the error it raised (or :class:`WorkerLost`).
        ``function`` must be a module-level function (it is sent by name);
        ``index`` defaults to the one the holder serves now.

        Raises:
            PoolBusy: MAX_WAITING questions are waiting already.
            WorkerLost: the pool is closed.
        """
        if self.closed:
            raise WorkerLost("the server is stopping")
        if self.jobs.qsize() >= MAX_WAITING:
            raise PoolBusy(busy(MAX_WAITING))
        job = _Job(index or self.holder.index, function, args, kwargs)
        self.jobs.put(job)
        return job.future

    def call(self, function: Callable[..., Any], *args: Any, index: Index | None = None,
             **kwargs: Any) -> Any:
        """:meth:`submit`, and wait for the result (raising what it raised)."""
        return self.submit(function, *args, index=index, **kwargs).result()

    def close(self) -> None:
        """Stop the workers (each finishes the question it holds); questions still
        waiting fail with :class:`WorkerLost`."""
        if self.closed:
            return
        self.closed = True
        while True:
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None and job.future.set_running_or_notify_cancel():
                job.future.set_exception(WorkerLost("the server is stopping"))
        for _ in self._workers:
            self.jobs.put(None)
        for worker in self._workers:
            if worker.thread.is_alive():
                worker.thread.join(timeout=STOP_TIMEOUT_S * 2 + 1)


class PooledIndex:
    """The page's view of an index: :meth:`answer` is computed by the pool's workers
    (from this same generation); everything else (search, diff, generated answers,
    the status line's counts) by the index itself, in the app's process."""

    def __init__(self, index: Index, pool: WorkerPool):
        self._index, self._pool = index, pool

    def answer(self, question: str, top_k: int | None = None, *, generate: bool = False,
               **options: Any) -> Answer:
        if generate:  # waits on the language model, not the CPU: no worker needed
            return self._index.answer(question, top_k, generate=True, **options)
        return self._pool.call(answer_of, question, top_k, index=self._index, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._index, name)


class PooledHolder:
    """An ``IndexHolder`` whose index answers through a pool (:class:`PooledIndex`)."""

    def __init__(self, holder: IndexHolder, pool: WorkerPool):
        self._holder, self._pool = holder, pool

    @property
    def index(self) -> PooledIndex:
        return PooledIndex(self._holder.index, self._pool)
