"""Answers in worker processes (rag/web/workers.py), with the fake embedder: the same
answers as in-process, from the generation the app serves (and the next one after a
swap), a killed worker restarted, no process left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import REPO, FakeEmbedder, write_release
from rag import load_index
from rag.errors import QuestionError
from rag.index.build import build_index
from rag.web import api, workers
from rag.web.server import answer_processes, server_app
from rag.web.workers import WorkerLost, WorkerPool, WorkerSpec

QUESTIONS = ["Which countries received new battle groups?",
             "How many barrels of oil per day will be released?",
             "Can every household order free at-home COVID-19 tests?",
             "When do tests ship?"]


def slow_pid(index, seconds: float) -> int:
    """Run in a worker: its pid, after a pause long enough to kill it meanwhile."""
    time.sleep(seconds)
    return os.getpid()


def pid_of(index) -> int:
    return os.getpid()


def wait_loaded(pool: WorkerPool, gen_dir: Path, timeout: float = 60) -> None:
    """Until every worker answers from ``gen_dir``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(s.loaded == str(gen_dir) and s.pid for s in pool.statuses()):
            return
        time.sleep(0.05)
    raise AssertionError(f"workers not loaded within {timeout} s: {pool.statuses()}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) is gone too.
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(pids, timeout: float = 15) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


@pytest.fixture
def pool(state, config):
    with WorkerPool(state, WorkerSpec(config, FakeEmbedder), processes=2) as started:
        wait_loaded(started, state.index.path)
        yield started


def test_worker_answers_equal_in_process_answers(pool, state):
    index = state.index
    for question in QUESTIONS:
        assert pool.call(workers.answer_dict, question, 3, collect=True) == \
            index.answer(question, 3, collect=True).to_dict()
        assert pool.call(workers.hit_dicts, question, mode="bm25") == \
            [h.to_dict() for h in index.search(question, mode="bm25").hits]
        assert pool.call(workers.answer_of, question) == index.answer(question)
    statuses = pool.statuses()
    # Answered by the worker processes, not in this one.
    assert sum(s.answered for s in statuses) == 3 * len(QUESTIONS)
    assert sum(s.local for s in statuses) == 0
    assert {s.pid for s in statuses} == {pool.call(pid_of) for _ in range(8)} - {os.getpid()}
    with pytest.raises(QuestionError, match="since = 'soon' must be a date"):
        pool.call(workers.answer_dict, QUESTIONS[0], since="soon")
    assert all(s.rss_mb and s.rss_mb > 10 for s in statuses)


def test_the_chat_reply_is_the_same_through_the_workers(pool, state):
    from rag.web.reply import respond_views

    args = ("", "", "All categories", "hybrid", 3)
    for question in (QUESTIONS[0], "Which countries received new battle groups? list them"):
        here = list(respond_views(state, question, [], *args, collect="on"))
        there = list(respond_views(workers.PooledHolder(state, pool), question, [], *args,
                                   collect="on"))
        assert there == here and here[-1].collection is not None
    assert sum(s.answered for s in pool.statuses()) == 2


def test_past_the_waiting_limit_a_question_is_refused(pool, monkeypatch):
    monkeypatch.setattr(workers, "MAX_WAITING", 0)
    with pytest.raises(workers.PoolBusy, match=r"busy \(0 questions waiting\)"):
        pool.submit(workers.answer_dict, QUESTIONS[0])


def test_the_api_answers_from_the_workers(pool, state, config):
    from fastapi.testclient import TestClient

    with TestClient(server_app(state, config, pool=pool)) as client:
        response = client.post("/api/ask", json={"question": QUESTIONS[1], "top_k": 2})
        assert response.status_code == 200, response.text
        assert response.json() == json.loads(json.dumps(
            state.index.answer(QUESTIONS[1], 2).to_dict()))
        hits = client.post("/api/search", json={"question": "oil", "mode": "bm25"})
        assert hits.json() == json.loads(json.dumps(
            [h.to_dict() for h in state.index.search("oil", mode="bm25").hits]))
        bad = client.post("/api/ask", json={"question": "oil", "until": "2022-13-01"})
        assert bad.status_code == 400 and "until" in bad.json()["error"]
    assert sum(s.answered for s in pool.statuses()) >= 2


def test_a_swap_is_followed_and_no_answer_comes_from_another_generation(
        pool, state, config, embedder, seeds):
    old = state.index
    write_release(seeds, "statements-releases/2022-03/ships.md", "Ships to the Baltic",
                  "2022-03-28", "The Navy sent twelve frigates to the Baltic Sea.")
    build_index(config, embedder, progress=False)
    new = load_index(config.index, config, embedder)
    assert new.path != old.path
    state._swap(new)
    question = "How many frigates were sent to the Baltic Sea?"
    # Asked right after the swap: answered from the new generation, here or by a worker.
    assert pool.call(workers.answer_dict, question) == new.answer(question).to_dict()
    # A question asked with the old index still gets the old generation's answer.
    assert pool.call(workers.answer_dict, question, index=old) == old.answer(question).to_dict()
    wait_loaded(pool, new.path)
    before = sum(s.answered for s in pool.statuses())
    assert pool.call(workers.answer_dict, question) == new.answer(question).to_dict()
    assert sum(s.answered for s in pool.statuses()) == before + 1


def test_a_killed_worker_fails_its_question_and_is_restarted(state, config, monkeypatch):
    from fastapi.testclient import TestClient

    monkeypatch.setattr(workers, "RESTART_DELAY_S", (0.1, 1.0))
    with WorkerPool(state, WorkerSpec(config, FakeEmbedder), processes=1) as pool:
        wait_loaded(pool, state.index.path)
        pid = pool.statuses()[0].pid
        held = pool.submit(slow_pid, 30)
        time.sleep(0.5)  # it is in the worker by now
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(WorkerLost, match=rf"pid {pid}\) stopped before it answered"):
            held.result(timeout=10)
        # The next question is answered (here while the new worker loads), then by it.
        assert pool.call(workers.answer_dict, QUESTIONS[0]) == \
            state.index.answer(QUESTIONS[0]).to_dict()
        wait_loaded(pool, state.index.path)
        restarted = pool.statuses()[0]
        assert restarted.pid != pid and restarted.restarts == 1
        assert pool.call(pid_of) == restarted.pid

        # Through the API: a clear 503 for the question held, then answers again.
        monkeypatch.setattr(api, "ask_call", lambda request: (slow_pid, (30,), {}))
        with TestClient(server_app(state, config, pool=pool)) as client:
            import threading

            outcome = {}
            asking = threading.Thread(target=lambda: outcome.update(
                r=client.post("/api/ask", json={"question": "oil"})))
            asking.start()
            time.sleep(0.5)
            os.kill(restarted.pid, signal.SIGKILL)
            asking.join(10)
            response = outcome["r"]
            assert response.status_code == 503 and response.headers["retry-after"] == "1"
            assert "stopped before it answered" in response.json()["error"]
            monkeypatch.undo()
            again = client.post("/api/search", json={"question": "oil"})
            assert again.status_code == 200 and again.json()


def test_close_stops_every_worker(state, config):
    pool = WorkerPool(state, WorkerSpec(config, FakeEmbedder), processes=2).start()
    wait_loaded(pool, state.index.path)
    pids = [s.pid for s in pool.statuses()]
    pool.close()
    assert wait_gone(pids, timeout=5) == []
    with pytest.raises(WorkerLost, match="stopping"):
        pool.submit(workers.answer_dict, QUESTIONS[0])


# The app's process, as `rag serve` runs it: starts a pool, prints the workers' pids,
# then waits to be interrupted (Ctrl-C) or killed.
APP = textwrap.dedent("""
    import signal, sys, time
    # As a terminal starts it: Ctrl-C raises KeyboardInterrupt. (A process started with
    # SIGINT ignored keeps it ignored, and the test process may have inherited that.)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from conftest import FakeEmbedder
    from rag import load_index
    from rag.config import config_from_dict
    from rag.web.app import AppState
    from rag.web.workers import WorkerPool, WorkerSpec
    config = config_from_dict({"seeds": sys.argv[1], "index": sys.argv[2],
                               "chunking": {"max_tokens": 40, "header_tokens": 16}}, ".")
    state = AppState(config, load_index(config.index, config, FakeEmbedder()))
    with WorkerPool(state, WorkerSpec(config, FakeEmbedder), 2) as pool:
        while not all(s.loaded for s in pool.statuses()):
            time.sleep(0.05)
        try:  # entered before the pids are printed: a Ctrl-C may follow at once
            print(" ".join(str(s.pid) for s in pool.statuses()), flush=True)
            time.sleep(60)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
""")


@pytest.mark.parametrize("how", ["ctrl-c", "kill"])
def test_no_worker_outlives_the_app(state, config, how):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    app = subprocess.Popen([sys.executable, "-c", APP, str(config.seeds), str(config.index)],
                           stdout=subprocess.PIPE, text=True, env=env,
                           start_new_session=True)  # its own group, as in a terminal
    try:
        pids = [int(p) for p in app.stdout.readline().split()]
        assert len(pids) == 2 and all(alive(p) for p in pids)
        if how == "ctrl-c":  # the terminal sends SIGINT to the whole foreground group
            os.killpg(app.pid, signal.SIGINT)
            assert app.stdout.readline().strip() == "interrupted"
            assert app.wait(timeout=20) == 0
        else:  # killed: nothing in the app can stop them; they notice it is gone
            os.kill(app.pid, signal.SIGKILL)
            app.wait(timeout=10)
        assert wait_gone(pids) == []
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()


def test_processes_default_to_one_per_core_and_qdrant_local_mode_to_one(config):
    assert answer_processes(config) == (os.cpu_count() or 1)
    assert answer_processes(config.replace(server=config.server.__class__(processes=3))) == 3
    local = config.replace(store=config.store.__class__(backend="qdrant",
                                                        qdrant_path=str(config.index)))
    assert answer_processes(local) == 1
