"""One port: the Gradio page at ``/`` and the JSON API at ``/api/...`` (``rag.web.api``),
in one FastAPI app served by uvicorn; the answers computed in ``server.processes``
worker processes (``rag.web.workers``)."""

from __future__ import annotations

import dataclasses
import functools
import os
import sys

from ..config import Config
from ..index.staleness import SeenFiles
from ..model.embedder import Embedder
from . import api
from .app import AppState, _gradio, build_app, launch_options
from .workers import WorkerPool, WorkerSpec, default_processes

QUEUE_SIZE = 64  # questions waiting in the page's queue; past it, refused at once
QUEUE_POLL_S = 0.01  # seconds between the idle queue's looks for work (Gradio's: 0.001)


def default_workers() -> int:
    """Answers computed at once: one per core. Each answer is CPU-bound (the model's
    sessions are single-threaded, rag.model.onnx), so more at once only share the cores
    and make every answer wait longer (benchmarks/RESULTS.md, "Many users")."""
    return os.cpu_count() or 1


def answer_processes(config: Config) -> int:
    """Worker processes for the answers: ``server.processes`` (0: one per core), but 1
    (answers in the app's process) for a Qdrant local-mode folder, which one process
    at a time may open."""
    if config.store.backend == "qdrant" and config.store.qdrant_path:
        return 1
    return config.server.processes or default_processes()


def start_pool(state: AppState, config: Config) -> WorkerPool | None:
    """The worker processes ``answer_processes`` asks for, started (each loads the model
    and the served index in the background); None for 1."""
    from ..model.transformer import load_embedder

    processes = answer_processes(config)
    if processes <= 1:
        return None
    # One model thread each: a worker computes one answer at a time.
    model = dataclasses.replace(config.model, threads=1)
    spec = WorkerSpec(state.config, functools.partial(load_embedder, model))
    return WorkerPool(state, spec, processes, progress=True).start()


def server_app(state: AppState, config: Config, workers: int | None = None,
               pool: WorkerPool | None = None):
    """The FastAPI app: ``POST /api/ask`` and ``/api/search`` first, then the page
    mounted at ``/`` with the launch options (login, limits, theme) it always had.

    Args:
        state: the shared index (and its rebuilds).
        config: ``server.username``/``password`` guard both the page and the API.
        workers: answers computed at once, on each side (page and API); default one
            per core.
        pool: worker processes that compute the API's and the chat's answers; None:
            threads of this process.
    """
    from fastapi import FastAPI

    gr = _gradio()
    workers = workers or default_workers()
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    api.add_routes(app, state, config.server.username, config.server.password, workers,
                   pool)
    demo = build_app(state, pool)
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=workers)
    # Gradio's queue looks for work every 1 ms when it has none (or every slot is busy):
    # 11% of a core with the app idle, taken from the answers under load. Every 10 ms
    # costs 3% and at most 10 ms before an answer starts (benchmarks/RESULTS.md).
    if hasattr(demo._queue, "sleep_when_free"):
        demo._queue.sleep_when_free = QUEUE_POLL_S
    options = launch_options(config)
    return gr.mount_gradio_app(
        app, demo, path="/", server_name=options["server_name"],
        server_port=options["server_port"], auth=options["auth"],
        max_file_size=options["max_file_size"], theme=options["theme"],
        css=options["css"], show_error=options["show_error"])


def serve(config: Config, embedder: Embedder, host: str | None = None,
          port: int | None = None) -> None:
    """Build the index if needed (serving from a lexical generation as soon as a large
    build publishes one), then serve the page and the API until interrupted."""
    import uvicorn

    host = host or config.server.host
    port = port or config.server.port
    config = config.replace(server=dataclasses.replace(config.server, host=host, port=port))
    seen: SeenFiles = {}  # the start-up staleness check's findings, for the status line
    state = AppState.start(config, embedder, seen)
    pool = start_pool(state, config)
    try:
        app = server_app(state, config, pool=pool)
        where = f"{pool.processes} worker processes" if pool else "this process"
        print(f"Serving on http://{host}:{port}/ (the page; JSON: POST /api/ask, "
              f"POST /api/search; answers computed in {where})", file=sys.stderr, flush=True)
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        if pool is not None:
            pool.close()

