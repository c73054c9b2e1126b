"""Benchmark the web app over HTTP: concurrent users asking through its Gradio API
(the page's chat handler) or its JSON API (``POST /api/ask``), or both.

Starts ``python app.py --config FILE --host 127.0.0.1 --port P`` as a subprocess (on a
free loopback port unless ``--port`` is given), waits until its page answers, and stops
it at the end, also on error or Ctrl-C. Then, per concurrency level (``--users``,
default 1,4,16), that many client threads, each with its own ``gradio_client.Client``
(its own session), ask ``--questions`` questions in all (default 40, dealt round-robin
over the clients, cycling through a fixed list of 20 questions about Feb-Mar 2022
releases) through the chat endpoint the Ask button uses (found with ``view_api``), and
wait for each job's final output.

``--paths api`` (or ``--api``) has each user instead keep one HTTP connection to the
same app and ``POST /api/ask`` ``{"question": ...}``; ``--paths gradio,api`` measures
both, one after the other, against the same app process, each with its own baseline
(and the load averages around it, as the machine is shared). An API answer counts as
answered on HTTP 200, and differs when its JSON is not the in-process
``Answer.to_dict()``; it has no "first update" and no queue rank.

A request counts as answered only when its final chat history ends with an assistant
message that is neither the "Searching the releases…" placeholder nor a ⚠️ error line;
anything else, an exception, or no answer within 120 s counts as failed. Each answer is
also compared with the in-process answer to the same question (``differing``; expected 0).

Printed (or one JSON object with ``--json``):

- the app's URL, endpoint and start-up seconds (model and index load), the model and
  its precision;
- the 1-minute load average before and after (other processes skew the timings);
- a baseline, with the app otherwise idle: the same ``--questions`` questions answered
  in-process by ``rag.load_index(config.index, config).answer(q)`` and, interleaved one
  by one with them (order swapped every question, so a change in machine load hits both
  sides alike), over HTTP by one client: p50/p95 ms of each, their ratio, and the
  median of the paired differences (HTTP - in-process), i.e. what the app adds. The
  in-process calls run in one worker thread, as the app runs its handler: on a busy
  2-core machine ``answer`` called from the main thread took 4-5x longer (and was fast
  again after ``torch.set_num_threads(1)``), which would hide the HTTP cost;
- one table row per level: users, requests, failed, wall seconds (first request sent to
  last answer), throughput (answers/s), latency p50/p95 ms (submit to final output),
  "first update" p50/p95 ms (submit to the placeholder's arrival: the handler has
  started, so beyond the one-user figure this is time spent in the app's queue), the
  highest queue rank the server reported, answers differing from in-process, latency
  p50 / in-process p50, and CPU seconds used by the app process (with its worker
  processes) and by this process (the clients) during the level.

Commands (from the repository root)::

    .venv/bin/python benchmarks/bench_serve.py                    # rag.yaml, 1,4,16 users
    .venv/bin/python benchmarks/bench_serve.py --users 1,2,8 --questions 80 --json
    .venv/bin/python benchmarks/bench_serve.py --paths gradio,api  # the page, then the API
    .venv/bin/python benchmarks/bench_serve.py --paths api --users 1,16 --processes 1,0

``--processes 1,0`` runs the whole measurement once per ``server.processes`` value (1:
answers in the app's process; 0: one worker process per core), each against its own
app process started from a copy of the config with that value (written to a temporary
folder, its paths made absolute), one after the other in the same run; the last table
compares each level with the first setting's (answers/s and p95 ratios). With worker
processes the benchmark waits until every worker says it is ready (its index loaded)
before measuring, reports each worker's resident memory (VmRSS) and the app's, and
checks that no worker outlives the app once it is stopped.

The index named by the config must be built and up to date (``rag index``): the app
would otherwise rebuild it on start, so the benchmark refuses instead. If the app asks
for a login (``server.password`` or ``RAG_PASSWORD``), the clients log in with it. Only
127.0.0.1 is contacted; Gradio telemetry is switched off in both processes. Exits 1 if any request
failed (or the app would not start), 0 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import re
import concurrent.futures
import http.client
import json
import os
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

# Before gradio_client is imported: its Client reads this to decide on telemetry.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

import numpy as np  # noqa: E402
import yaml  # noqa: E402

import rag  # noqa: E402
from app_process import (HOST, REPO, AppError, final_answer, free_port,  # noqa: E402
                         log_tail, start_app, stop_app, wait_until_up)
from bench_common import positive  # noqa: E402
from rag.web.render import answer_markdown  # noqa: E402
from rag.web.app import ALL_CATEGORIES  # noqa: E402

START_TIMEOUT = 300.0     # s for the app to load the model and index and answer its page
REQUEST_TIMEOUT = 120.0   # s for one answer, queueing included
LEVEL_TIMEOUT = 900.0     # s for one level; requests not started by then count as failed
CONNECT_TIMEOUT = 60.0    # s for all clients of a level to fetch the app's config
POLL = 0.05               # s between looks at a running job (queue rank, first update)
WARMUP = 2                # untimed answers, in-process and over HTTP, before measuring

# Realistic questions about the Feb-Mar 2022 releases in seeds/; cycled to reach --questions.
QUESTIONS = (
    "Which countries received new battle groups?",
    "How many barrels of oil per day will be released from the Strategic Petroleum Reserve?",
    "What sanctions were announced on Russian banks in late February 2022?",
    "Who was nominated to the Federal Reserve Board?",
    "Who did the President nominate to the Supreme Court?",
    "How many free at-home COVID-19 tests can each household order?",
    "What export controls did the United States impose on Russia?",
    "Which Russian oligarchs were sanctioned?",
    "What did the administration announce about banning imports of Russian oil, gas and coal?",
    "How much humanitarian assistance is the United States providing to Ukraine?",
    "How many Ukrainian refugees will the United States welcome?",
    "What is the goal of the relaunched Cancer Moonshot?",
    "What did the President say about the February jobs report?",
    "How much security assistance did the President authorize for Ukraine in March 2022?",
    "What is the Test to Treat initiative?",
    "Which Russian banks were cut off from SWIFT?",
    "Who was nominated to be Ambassador in March 2022?",
    "What does the Affordable Connectivity Program offer to households?",
    "What are the goals of the Indo-Pacific Strategy?",
    "What did the President announce about Russia's most favored nation trade status?",
)


class BenchError(AppError):
    """The benchmark cannot run: the app does not start, has no chat endpoint, ..."""


@dataclass(frozen=True)
class Outcome:
    """One HTTP question: answered or not, what came back and how long it took."""

    question: str
    ok: bool
    latency_ms: float
    text: str = ""                        # the assistant's final message, if answered
    first_update_ms: float | None = None  # submit -> placeholder: mostly queue wait
    queue_rank: int | None = None         # highest rank the server reported, if queued
    error: str = ""


@dataclass(frozen=True)
class Baseline:
    """The benchmark's questions in-process and over HTTP, interleaved one by one."""

    inprocess_ms: tuple[float, ...]
    http: tuple[Outcome, ...]             # http[i] asked the question of inprocess_ms[i]
    replies: dict[str, str]               # question -> the reply as the app renders it
    abstained: int                        # among the distinct questions asked

    def figures(self) -> dict[str, Any]:
        base_p50 = _pct(self.inprocess_ms, 50)
        http_ms = [o.latency_ms for o in self.http if o.ok]
        http_p50 = _pct(http_ms, 50)
        added = [o.latency_ms - ms for o, ms in zip(self.http, self.inprocess_ms) if o.ok]
        return {
            "requests": len(self.inprocess_ms),
            "distinct": len(self.replies), "abstained": self.abstained,
            "inprocess_p50_ms": base_p50, "inprocess_p95_ms": _pct(self.inprocess_ms, 95),
            "http_p50_ms": http_p50, "http_p95_ms": _pct(http_ms, 95),
            "http_failed": sum(not o.ok for o in self.http),
            "http_differing": _differing(self.http, self.replies),
            "http_vs_inprocess_p50": _ratio(http_p50, base_p50),
            "added_p50_ms": _pct(added, 50),
            "errors": sorted({o.error for o in self.http if o.error})[:5],
        }


@dataclass(frozen=True)
class Level:
    """All requests of one concurrency level."""

    users: int
    wall_s: float
    outcomes: tuple[Outcome, ...]
    app_cpu_s: float | None               # CPU seconds the app (and its workers) used
    client_cpu_s: float                   # CPU seconds this process (the clients) used

    @property
    def failed(self) -> int:
        return sum(not o.ok for o in self.outcomes)

    def figures(self, inprocess_p50: float | None, replies: dict[str, str]) -> dict[str, Any]:
        ok = [o for o in self.outcomes if o.ok]
        latency = [o.latency_ms for o in ok]
        first = [o.first_update_ms for o in ok if o.first_update_ms is not None]
        ranks = [o.queue_rank for o in self.outcomes if o.queue_rank is not None]
        p50 = _pct(latency, 50)
        return {
            "users": self.users, "requests": len(self.outcomes), "failed": self.failed,
            "wall_s": round(self.wall_s, 2),
            "answers_per_s": round(len(ok) / self.wall_s, 3) if self.wall_s else 0.0,
            "p50_ms": p50, "p95_ms": _pct(latency, 95),
            "first_update_p50_ms": _pct(first, 50), "first_update_p95_ms": _pct(first, 95),
            "max_queue_rank": max(ranks) if ranks else None,
            "differing": _differing(ok, replies),
            "p50_vs_inprocess": _ratio(p50, inprocess_p50),
            "app_cpu_s": None if self.app_cpu_s is None else round(self.app_cpu_s, 1),
            "client_cpu_s": round(self.client_cpu_s, 1),
            "errors": sorted({o.error for o in self.outcomes if o.error})[:5],
        }


def _pct(values: Sequence[float], q: int) -> float | None:
    return round(float(np.percentile(values, q)), 1) if len(values) else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def _differing(outcomes: Sequence[Outcome], replies: dict[str, str]) -> int:
    """Answered outcomes whose text is not the in-process reply to the same question."""
    return sum(o.ok and o.question in replies and o.text != replies[o.question]
               for o in outcomes)


# --- the app process -------------------------------------------------------------------


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a running process (Linux ``/proc``; None elsewhere)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the ")" that closes the command name; utime and stime are 14 and 15.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux ``/proc``; [] elsewhere)."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def rss_mb(pid: int) -> dict[str, float] | None:
    """The resident memory of a process in MiB: ``rss`` (VmRSS) and its ``anon`` and
    ``file`` parts (file pages, e.g. the memory-mapped index arrays, are shared with
    other processes mapping the same files); None if it is gone."""
    fields = {"VmRSS:": "rss", "RssAnon:": "anon", "RssFile:": "file"}
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return None
    return {fields[line.split()[0]]: round(int(line.split()[1]) / 1024, 1)
            for line in lines if line.split() and line.split()[0] in fields}


def _memory(m: dict[str, float] | None) -> str:
    return "-" if not m else f"{m['rss']:g} ({m.get('anon', 0):g} anon + {m.get('file', 0):g} file)"


def alive(pid: int) -> bool:
    """Running and not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


READY = re.compile(r"answer worker (\d+) \(pid (\d+)\) ready")


def wait_workers(log, expected: int, app: Any, timeout: float) -> list[int]:
    """Until ``expected`` answer workers have said they are ready in the app's output;
    their pids.

    Raises:
        BenchError: the app exited or they were not ready within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.poll() is not None:
            raise BenchError(f"the app exited with code {app.returncode}")
        log.flush()
        log.seek(0)
        ready = {int(m.group(1)): int(m.group(2))
                 for m in READY.finditer(log.read().decode(errors="replace"))}
        log.seek(0, os.SEEK_END)
        if len(ready) >= expected:
            return sorted(ready.values())
        time.sleep(0.5)
    raise BenchError(f"{expected} answer workers were not ready within {timeout:g} s")


def config_with_processes(config_path: Path, processes: int, folder: Path) -> Path:
    """A copy of the config with ``server.processes`` set, in ``folder``; its relative
    paths made absolute (they are relative to the original file)."""
    raw = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    base = config_path.resolve().parent
    for key in ("seeds", "index"):
        raw[key] = str((base / Path(raw.get(key, key)).expanduser()).resolve())
    for section, key in (("model", "cache"), ("store", "qdrant_path")):
        value = (raw.get(section) or {}).get(key)
        if value:
            raw[section][key] = str((base / Path(value).expanduser()).resolve())
    raw["server"] = {**(raw.get("server") or {}), "processes": processes}
    copy = folder / f"processes-{processes}.yaml"
    copy.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return copy


# --- the HTTP side ---------------------------------------------------------------------

def connect(url: str, auth: tuple[str, str] | None):
    from gradio_client import Client

    return Client(url, auth=auth, verbose=False, analytics_enabled=False,
                  download_files=False)


def chat_endpoint(client) -> str:
    """The API name of the chat handler (registered by ``ask.click``, then
    ``question.submit``: ``/run`` and ``/run_1`` run the same function).

    Raises:
        BenchError: no endpoint takes (Textbox, Chatbot, ...) and returns a Chatbot.
    """
    api = client.view_api(print_info=False, return_format="dict")
    for name, info in api["named_endpoints"].items():
        params = [p["component"] for p in info["parameters"]]
        returns = [r["component"] for r in info["returns"]]
        if params[:2] == ["Textbox", "Chatbot"] and returns[:1] == ["Chatbot"]:
            return name
    raise BenchError(f"no chat endpoint among {sorted(api['named_endpoints'])}; "
                     "did build_app in rag/web.py change its inputs?")


def ask(client, endpoint: str, question: str, inputs: Sequence[Any]) -> Outcome:
    """Ask one question in a fresh chat and wait (at most REQUEST_TIMEOUT) for the end."""
    from gradio_client.utils import Status

    started = time.perf_counter()
    first = rank = None
    try:
        job = client.submit(question, [], *inputs, api_name=endpoint)
        while True:
            try:
                result = job.result(timeout=POLL)  # returns as soon as the job ends
                break
            except TimeoutError:
                if job.done():  # the job itself timed out: not our poll
                    raise
            if first is None and job.outputs():
                first = (time.perf_counter() - started) * 1000
            status = job.status()
            if status.code == Status.IN_QUEUE and status.rank is not None:
                rank = max(rank or 0, status.rank)
            if time.perf_counter() - started > REQUEST_TIMEOUT:
                job.cancel()
                raise TimeoutError(f"no answer within {REQUEST_TIMEOUT:g} s")
        latency = (time.perf_counter() - started) * 1000
        text = final_answer(result)
    except Exception as exc:  # any failure is one failed request, not the end of the run
        return Outcome(question, ok=False, latency_ms=(time.perf_counter() - started) * 1000,
                       queue_rank=rank, error=f"{type(exc).__name__}: {exc}"[:200])
    return Outcome(question, ok=True, latency_ms=latency, text=text, first_update_ms=first,
                   queue_rank=rank)


class ApiClient:
    """One program using the JSON API: a kept-alive HTTP connection to ``POST /api/ask``."""

    def __init__(self, url: str, auth: tuple[str, str] | None):
        parts = urllib.parse.urlsplit(url)
        self._address = (parts.hostname, parts.port)
        self._headers = {"Content-Type": "application/json"}
        if auth:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        self._conn = http.client.HTTPConnection(*self._address, timeout=REQUEST_TIMEOUT)

    def ask(self, question: str) -> dict[str, Any]:
        """The answer's JSON (raises on anything but HTTP 200)."""
        try:
            self._conn.request("POST", "/api/ask", json.dumps({"question": question}),
                               self._headers)
            response = self._conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):
            self._conn.close()  # reconnect on the next request
            raise
        if response.status != 200:
            raise ValueError(f"HTTP {response.status}: {body[:160]!r}")
        return json.loads(body)

    def close(self) -> None:
        self._conn.close()


def api_reply(data: dict[str, Any]) -> str:
    """An answer's JSON, canonical, to compare the API's with ``to_dict()`` in-process."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


def ask_api(client: ApiClient, question: str) -> Outcome:
    """One question through ``POST /api/ask``; latency is request sent to body read."""
    started = time.perf_counter()
    try:
        text = api_reply(client.ask(question))
    except Exception as exc:  # any failure is one failed request, not the end of the run
        return Outcome(question, ok=False, latency_ms=(time.perf_counter() - started) * 1000,
                       error=f"{type(exc).__name__}: {exc}"[:200])
    return Outcome(question, ok=True, latency_ms=(time.perf_counter() - started) * 1000,
                   text=text)


@dataclass(frozen=True)
class Path_:
    """One way into the app: how a user connects, asks, and what the in-process answer
    looks like on that path (to count differing answers)."""

    name: str                                   # "gradio" or "api"
    endpoint: str
    connect: Callable[[], Any]
    ask: Callable[[Any, str], Outcome]
    reply: Callable[[Any], str]                 # in-process Answer -> the path's text


def gradio_path(url: str, auth: tuple[str, str] | None, inputs: Sequence[Any]) -> Path_:
    """The page's chat handler through ``gradio_client`` (its endpoint found once)."""
    probe = connect(url, auth)
    try:
        endpoint = chat_endpoint(probe)
    finally:
        probe.close()
    return Path_("gradio", endpoint, lambda: connect(url, auth),
                 lambda client, q: ask(client, endpoint, q, inputs), answer_markdown)


def api_path(url: str, auth: tuple[str, str] | None) -> Path_:
    return Path_("api", "POST /api/ask", lambda: ApiClient(url, auth), ask_api,
                 lambda answer: api_reply(json.loads(json.dumps(answer.to_dict()))))


def cpu_seconds_of(pids: Sequence[int]) -> float | None:
    """The CPU seconds of the app and its worker processes, together."""
    seconds = [cpu_seconds(pid) for pid in pids]
    return None if any(s is None for s in seconds) else sum(seconds)


def run_level(path: Path_, users: int, count: int, app_pids: Sequence[int]) -> Level:
    """``users`` client threads ask ``count`` questions in all, dealt round-robin.

    Every client connects first; then all start together and the wall time runs from
    that start to the last answer.
    """
    outcomes: list[Outcome | None] = [None] * count
    connected = threading.Semaphore(0)
    go = threading.Event()

    def failed(j: int, error: str) -> Outcome:
        return Outcome(QUESTIONS[j % len(QUESTIONS)], ok=False, latency_ms=0.0, error=error)

    def client_thread(user: int) -> None:
        mine = range(user, count, users)
        try:
            client = path.connect()
        except Exception as exc:
            for j in mine:
                outcomes[j] = failed(j, f"connect: {type(exc).__name__}: {exc}"[:200])
            return
        finally:
            connected.release()
        try:
            go.wait(CONNECT_TIMEOUT * 2)
            deadline = time.monotonic() + LEVEL_TIMEOUT
            for j in mine:
                if time.monotonic() > deadline:
                    outcomes[j] = failed(j, f"not sent: level over {LEVEL_TIMEOUT:g} s")
                else:
                    outcomes[j] = path.ask(client, QUESTIONS[j % len(QUESTIONS)])
        finally:
            client.close()

    threads = [threading.Thread(target=client_thread, args=(u,), daemon=True,
                                name=f"user-{u}") for u in range(users)]
    for thread in threads:
        thread.start()
    give_up = time.monotonic() + CONNECT_TIMEOUT
    for _ in threads:
        connected.acquire(timeout=max(0.0, give_up - time.monotonic()))
    app_cpu, client_cpu = cpu_seconds_of(app_pids), time.process_time()
    started = time.perf_counter()
    go.set()
    for thread in threads:
        thread.join(timeout=LEVEL_TIMEOUT + REQUEST_TIMEOUT)
    wall = time.perf_counter() - started
    app_end = cpu_seconds_of(app_pids)
    done = tuple(o if o is not None else failed(j, "no result")
                 for j, o in enumerate(outcomes))
    return Level(users=users, wall_s=wall, outcomes=done,
                 app_cpu_s=None if app_cpu is None or app_end is None else app_end - app_cpu,
                 client_cpu_s=time.process_time() - client_cpu)


# --- baseline --------------------------------------------------------------------------

def run_baseline(index: rag.Index, path: Path_, count: int) -> Baseline:
    """Answer the benchmark's questions in-process and over HTTP, alternately.

    Question j is answered by both, back to back, in-process first for even j and HTTP
    first for odd j, so a drift in machine load falls on both sides evenly. In-process
    answers run in one worker thread, like the app's handler (see the module docstring).
    """
    inprocess, http, replies, abstained = [], [], {}, 0

    def timed(question: str) -> tuple[float, Any]:
        started = time.perf_counter()
        answer = index.answer(question)
        return (time.perf_counter() - started) * 1000, answer

    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="inprocess") as worker:
        def local(question: str) -> None:
            nonlocal abstained
            ms, answer = worker.submit(timed, question).result(timeout=REQUEST_TIMEOUT)
            inprocess.append(ms)
            if question not in replies:
                abstained += answer.abstained
            replies[question] = path.reply(answer)

        client = path.connect()
        try:
            for question in QUESTIONS[:WARMUP]:
                worker.submit(index.answer, question).result(timeout=REQUEST_TIMEOUT)
                path.ask(client, question)
            for j in range(count):
                question = QUESTIONS[j % len(QUESTIONS)]
                if j % 2 == 0:
                    local(question)
                    http.append(path.ask(client, question))
                else:
                    http.append(path.ask(client, question))
                    local(question)
        finally:
            client.close()
    return Baseline(tuple(inprocess), tuple(http), replies, abstained)


# --- the run ---------------------------------------------------------------------------

def benchmark(config_path: Path, user_levels: Sequence[int], count: int,
              port: int | None, paths: Sequence[str] = ("gradio",),
              processes: Sequence[int] | None = None) -> dict[str, Any]:
    """:func:`measure` the app as configured, or once per ``server.processes`` value
    of ``processes`` (each from a copy of the config with it), with a comparison of
    every level against the first value's."""
    if not processes:
        return measure(config_path, user_levels, count, port, paths)
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as folder:
        for value in processes:
            copy = config_with_processes(config_path, value, Path(folder))
            run = measure(copy, user_levels, count, port, paths)
            run["processes"] = value
            runs.append(run)
    return {"config": str(config_path), "runs": runs, "comparison": compare(runs)}


def compare(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each run's levels against the same path and level of the first run."""
    rows = []
    first = {(p["path"], lv["users"]): lv for p in runs[0]["paths"] for lv in p["levels"]}
    for run in runs:
        for p in run["paths"]:
            for lv in p["levels"]:
                base = first.get((p["path"], lv["users"]))
                rows.append({
                    "processes": run["processes"], "path": p["path"], "users": lv["users"],
                    "answers_per_s": lv["answers_per_s"], "p50_ms": lv["p50_ms"],
                    "p95_ms": lv["p95_ms"], "failed": lv["failed"],
                    "differing": lv["differing"],
                    "throughput_ratio": _ratio(lv["answers_per_s"], base and
                                               base["answers_per_s"]),
                    "p95_ratio": _ratio(lv["p95_ms"], base and base["p95_ms"])})
    return rows


def measure(config_path: Path, user_levels: Sequence[int], count: int,
            port: int | None, paths: Sequence[str] = ("gradio",)) -> dict[str, Any]:
    """Start the app, measure each path (``gradio``: the page's chat handler; ``api``:
    ``POST /api/ask``): its baseline, then every level; stop the app.

    Raises:
        RagError: the config or index cannot be loaded.
        BenchError: the index is stale, the app does not start or has no chat endpoint.
    """
    config = rag.load_config(config_path)
    index = rag.load_index(config.index, config)
    stale = index.staleness(config.seeds)
    if stale.stale:
        raise BenchError(f"the index {config.index} is stale ({stale.describe()} release "
                         f"files in {config.seeds}); the app would rebuild it on start. "
                         "Run `rag index` first.")
    inputs = ("", "", ALL_CATEGORIES, config.retrieval.mode, config.retrieval.top_k)
    # The app asks for a login when a password is set; log in as it would let a visitor.
    password = os.environ.get("RAG_PASSWORD") or config.server.password
    auth = (config.server.username, password) if password else None
    port = port or free_port()
    url = f"http://{HOST}:{port}/"
    load_before = os.getloadavg()
    measured = []
    processes = config.server.processes or os.cpu_count() or 1
    worker_pids: list[int] = []
    memory: dict[str, Any] = {}

    with tempfile.TemporaryFile(prefix="bench-serve-app-") as log:
        app = start_app(config_path, port, log)
        launched = time.monotonic()
        try:
            startup = wait_until_up(url, app, START_TIMEOUT)
            if processes > 1:
                worker_pids = wait_workers(log, processes, app, START_TIMEOUT)
            workers_ready = time.monotonic()
            for name in paths:
                path = gradio_path(url, auth, inputs) if name == "gradio" \
                    else api_path(url, auth)
                probe = path.connect()
                try:
                    check = path.ask(probe, QUESTIONS[0])
                finally:
                    probe.close()
                if not check.ok:
                    raise BenchError(f"{name}: first request failed: {check.error}")
                path_load = os.getloadavg()
                baseline = run_baseline(index, path, count)
                levels = [run_level(path, users, count, [app.pid, *worker_pids])
                          for users in user_levels]
                base = baseline.figures()
                measured.append({
                    "path": name, "endpoint": path.endpoint,
                    "load_before": [round(x, 2) for x in path_load],
                    "load_after": [round(x, 2) for x in os.getloadavg()],
                    "baseline": base,
                    "levels": [level.figures(base["inprocess_p50_ms"], baseline.replies)
                               for level in levels]})
            memory = {"app_rss_mb": rss_mb(app.pid),
                      "worker_rss_mb": [rss_mb(pid) for pid in worker_pids]}
        except AppError as exc:
            raise BenchError(f"{exc}\n--- app output (last lines) ---\n{log_tail(log)}") \
                from None
        finally:
            left = [pid for pid in children(app.pid) if alive(pid)]
            stop_app(app)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and any(alive(pid) for pid in left):
                time.sleep(0.2)
            memory["left_after_stop"] = [pid for pid in left if alive(pid)]

    return {
        "config": str(config_path), "url": url,
        "model": f"{index.embedder.info.id} ({index.embedder.info.precision})",
        "cpus": os.cpu_count(), "startup_s": round(startup, 1),
        "processes": config.server.processes, "worker_processes": len(worker_pids),
        "workers_ready_s": round(workers_ready - launched, 1),
        **memory,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "questions_per_level": count,
        "paths": measured,
    }


def failures(result: dict[str, Any]) -> int:
    """Failed HTTP requests in the whole run, baselines included (and, with
    ``--processes``, worker processes left behind by a stopped app)."""
    if "runs" in result:
        return sum(failures(run) + len(run.get("left_after_stop", ()))
                   for run in result["runs"])
    return sum(p["baseline"]["http_failed"] + sum(lv["failed"] for lv in p["levels"])
               for p in result["paths"])


COLUMNS = (  # (key, header, width)
    ("users", "users", 5), ("requests", "requests", 8), ("failed", "failed", 6),
    ("wall_s", "wall s", 7), ("answers_per_s", "answers/s", 9), ("p50_ms", "p50 ms", 8),
    ("p95_ms", "p95 ms", 8), ("first_update_p50_ms", "1st upd p50", 11),
    ("first_update_p95_ms", "1st upd p95", 11), ("max_queue_rank", "max rank", 8),
    ("differing", "differ", 6), ("p50_vs_inprocess", "p50/inproc", 10),
    ("app_cpu_s", "app cpu s", 9), ("client_cpu_s", "client cpu s", 12),
)


def _loads(values: Sequence[float]) -> str:
    return " / ".join(f"{v:g}" for v in values) + " (1 / 5 / 15 min)"


COMPARISON = (  # (key, header, width)
    ("processes", "processes", 9), ("path", "path", 6), ("users", "users", 5),
    ("answers_per_s", "answers/s", 9), ("throughput_ratio", "x answers/s", 11),
    ("p50_ms", "p50 ms", 8), ("p95_ms", "p95 ms", 8), ("p95_ratio", "x p95", 6),
    ("failed", "failed", 6), ("differing", "differ", 6),
)


def report_text(r: dict[str, Any]) -> str:
    if "runs" in r:
        lines = []
        for run in r["runs"]:
            lines += [f"##### server.processes = {run['processes']}", report_text(run), ""]
        lines += ["== comparison with the first setting (x: ratio to its figure at the "
                  "same path and users)",
                  " ".join(f"{header:>{width}}" for _, header, width in COMPARISON)]
        for row in r["comparison"]:
            lines.append(" ".join(f"{'-' if row[key] is None else row[key]:>{width}}"
                                  for key, _, width in COMPARISON))
        return "\n".join(lines)
    workers = r.get("worker_rss_mb") or []
    lines = [
        f"app: {r['url']} (config {r['config']}, up in {r['startup_s']} s)",
        f"model: {r['model']}",
        f"cpus: {r['cpus']}",
        "answers computed in: " + (f"{r['worker_processes']} worker processes, all "
                                    f"ready {r['workers_ready_s']} s after launch"
                                    if r.get("worker_processes") else "the app's process"),
        f"resident memory MiB: app {_memory(r.get('app_rss_mb'))}"
        + ("; workers " + ", ".join(_memory(m) for m in workers) if workers else ""),
        f"processes left after the app stopped: {len(r.get('left_after_stop', []))}",
        f"load average before: {_loads(r['load_before'])}",
        f"load average after: {_loads(r['load_after'])}",
    ]
    for p in r["paths"]:
        b = p["baseline"]
        lines += [
            "",
            f"== path: {p['path']} ({p['endpoint']}); load average "
            f"{_loads(p['load_before'])} -> {_loads(p['load_after'])}",
            f"baseline questions: {b['requests']} ({b['distinct']} distinct, "
            f"{b['abstained']} abstained)",
            f"baseline in-process answer() p50 / p95 ms: {b['inprocess_p50_ms']} / "
            f"{b['inprocess_p95_ms']}",
            f"baseline HTTP, 1 client, interleaved p50 / p95 ms: {b['http_p50_ms']} / "
            f"{b['http_p95_ms']} (failed {b['http_failed']}, differing {b['http_differing']})",
            f"baseline ratio HTTP / in-process p50: {b['http_vs_inprocess_p50']}",
            f"baseline added by HTTP, paired, p50 ms: {b['added_p50_ms']}",
            "",
            " ".join(f"{header:>{width}}" for _, header, width in COLUMNS),
        ]
        for lv in p["levels"]:
            lines.append(" ".join(f"{'-' if lv[key] is None else lv[key]:>{width}}"
                                  for key, _, width in COLUMNS))
        for error in b["errors"]:
            lines.append(f"baseline HTTP failed: {error}")
        for lv in p["levels"]:
            for error in lv["errors"]:
                lines.append(f"{lv['users']} users, failed: {error}")
    return "\n".join(lines)


def _paths(value: str) -> list[str]:
    """argparse type: ``gradio``, ``api`` or both, comma-separated."""
    paths = [part.strip() for part in value.split(",") if part.strip()]
    if not paths or any(p not in ("gradio", "api") for p in paths):
        raise argparse.ArgumentTypeError(f"{value!r} must be gradio, api or gradio,api")
    return paths


def _whole_numbers(value: str, example: str) -> list[int]:
    """Comma-separated whole numbers (argparse type helper); ``example`` shows the form."""
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} must be whole numbers separated by "
                                         f"commas, e.g. {example}") from None


def _user_levels(value: str) -> list[int]:
    """argparse type: comma-separated whole numbers of at least 1, e.g. ``1,4,16``."""
    levels = _whole_numbers(value, "1,4,16")
    if not levels or min(levels) < 1 or max(levels) > 64:
        raise argparse.ArgumentTypeError(f"{value!r}: each level must be 1-64 users "
                                         "(the app queues at most 64 requests)")
    return levels


def _processes(value: str) -> list[int]:
    """argparse type: comma-separated server.processes values (0-64), e.g. ``1,0``."""
    values = _whole_numbers(value, "1,0")
    if not values or min(values) < 0 or max(values) > 64:
        raise argparse.ArgumentTypeError(f"{value!r}: each must be 0 (one per core) to 64")
    return values


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "rag.yaml"),
                        help="YAML settings file for the app and the baseline (rag.yaml)")
    parser.add_argument("--users", type=_user_levels, default=[1, 4, 16],
                        help="concurrency levels, comma-separated (default 1,4,16)")
    parser.add_argument("--questions", type=positive, default=40,
                        help="requests per level, spread over its users, and in the "
                             "baseline (default 40)")
    parser.add_argument("--port", type=int, help="port for the app (default: a free one)")
    parser.add_argument("--paths", type=_paths, default=["gradio"],
                        help="what the users go through: gradio (the page's chat handler, "
                             "the default), api (POST /api/ask) or gradio,api (both, one "
                             "after the other, against the same app)")
    parser.add_argument("--api", dest="paths", action="store_const", const=["api"],
                        help="the same as --paths api")
    parser.add_argument("--processes", type=_processes,
                        help="server.processes values to compare, comma-separated, each "
                             "with its own app (e.g. 1,0: in-process, then one worker per "
                             "core); default: the config's")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    config = Path(args.config).resolve()
    if not config.is_file():
        print(f"error: config file {config} does not exist", file=sys.stderr)
        return 1
    try:
        result = benchmark(config, args.users, args.questions, args.port, args.paths,
                           args.processes)
    except (rag.RagError, AppError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=1, ensure_ascii=False) if args.json
          else report_text(result))
    return 1 if failures(result) else 0


if __name__ == "__main__":
    sys.exit(main())
