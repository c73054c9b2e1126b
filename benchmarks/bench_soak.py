"""Soak the web app: concurrent users for minutes while the index is rebuilt under them.

Copies the seeds folder (``seeds/`` of the config, 350 small files) to a temporary
folder, writes a temporary config (the settings of ``--config`` with that seeds copy and
a temporary index folder), builds the index there with ``rag index`` (the real model:
about two minutes), then starts ``python app.py --config TMP --host 127.0.0.1 --port P``
on a free loopback port.

``--users`` clients (default 16), each with its own ``gradio_client.Client``, ask a fixed
list of questions through the chat endpoint the Ask button uses (found with
``view_api``, as ``bench_serve.py`` does) for ``--minutes`` (default 3), one question at a
time each, a new one as soon as the last is answered. At one third and two thirds of the
run the script appends a paragraph to one seed file and presses the app's "Rebuild
index" button through its API (``/rebuild``), then polls the status line (``/status``)
until the rebuilt index is swapped in. A request counts as answered when its final chat
history ends with an assistant message that is neither the "Searching the releases…"
placeholder nor a ⚠️ error line; anything else, an exception or no answer within 120 s
counts as failed.

Printed, one ``name: value`` per line (or one JSON object with ``--json``):

- start-up: the initial ``rag index`` seconds, the app's start-up seconds;
- requests, answered, failed (and how many of each overlapped a rebuild), throughput
  (answers/s over the run), latency p50/p95 ms (submit to final output);
- the app process's resident memory (``VmRSS`` from ``/proc/PID/status``) sampled every
  10 s: first, max, last, the number of samples and the samples themselves;
- per rebuild: the build seconds the app reports ("Last rebuild: ...; N s") and the
  seconds from pressing the button until the status line no longer says "Rebuilding";
- the 1-minute load average before and after, and up to 5 distinct errors.

Commands (from the repository root)::

    .venv/bin/python benchmarks/bench_soak.py                       # 16 users, 3 minutes
    .venv/bin/python benchmarks/bench_soak.py --minutes 2 --users 8 --json

Only 127.0.0.1 is contacted; Gradio telemetry is switched off in both processes. Every
loop is bounded by a deadline. The temporary folder is removed at the end (``--keep``
keeps it and prints where it is). Exits 1 if any request or rebuild failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

# Before gradio_client is imported: its Client reads these to decide on telemetry.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

import numpy as np  # noqa: E402
import yaml  # noqa: E402
from app_process import (APP_ENV, HOST, REPO, AppError, final_answer,  # noqa: E402
                         free_port, log_tail, start_app, stop_app, wait_until_up)

BUILD_TIMEOUT = 1800.0    # s for the initial `rag index` with the real model
START_TIMEOUT = 300.0     # s for the app to load the model and the index
REQUEST_TIMEOUT = 120.0   # s for one answer, queueing included
REBUILD_TIMEOUT = 600.0   # s from pressing "Rebuild index" to the new index being served
RSS_EVERY = 10.0          # s between memory samples
STATUS_POLL = 0.5         # s between looks at the status line during a rebuild
ALL_CATEGORIES = "All categories"  # rag.web.app.ALL_CATEGORIES, without importing gradio code

# Questions about the Feb-Mar 2022 releases in seeds/ (as in bench_serve.py), cycled.
QUESTIONS = (
    "Which countries received new battle groups?",
    "How many barrels of oil per day will be released from the Strategic Petroleum Reserve?",
    "What sanctions were announced on Russian banks in late February 2022?",
    "Who was nominated to the Federal Reserve Board?",
    "Who did the President nominate to the Supreme Court?",
    "How many free at-home COVID-19 tests can each household order?",
    "What export controls did the United States impose on Russia?",
    "Which Russian oligarchs were sanctioned?",
    "How much humanitarian assistance is the United States providing to Ukraine?",
    "How many Ukrainian refugees will the United States welcome?",
    "What is the goal of the relaunched Cancer Moonshot?",
    "What is the Test to Treat initiative?",
    "Which Russian banks were cut off from SWIFT?",
    "What are the goals of the Indo-Pacific Strategy?",
)


class SoakError(AppError):
    """The soak cannot run: the build fails, the app does not start, no endpoint, ..."""


@dataclass(frozen=True)
class Request:
    """One question asked over HTTP."""

    sent: float        # time.monotonic() when submitted
    latency_s: float
    ok: bool
    error: str = ""


@dataclass(frozen=True)
class Rebuild:
    """One press of "Rebuild index"."""

    started: float     # time.monotonic()
    wall_s: float      # until the status line no longer says "Rebuilding"
    build_s: float | None
    status: str        # the app's "Last rebuild: ..." or "Rebuild failed: ..." line

    @property
    def ok(self) -> bool:
        return self.build_s is not None and "Rebuild failed" not in self.status


# --- preparing the copy and the index ------------------------------------------------------

def prepare(workdir: Path, base_config: Path) -> tuple[Path, float]:
    """Copy the seeds, write a config for the copy, build its index with ``rag index``.

    Returns:
        The temporary config file and the build's seconds.

    Raises:
        SoakError: the config has no seeds folder, or ``rag index`` failed.
    """
    raw = yaml.safe_load(base_config.read_text(encoding="utf-8")) or {}
    seeds = (base_config.parent / raw.get("seeds", "seeds")).resolve()
    if not seeds.is_dir():
        raise SoakError(f"the seeds folder {seeds} of {base_config} does not exist")
    shutil.copytree(seeds, workdir / "seeds", symlinks=False)
    raw.update(seeds=str(workdir / "seeds"), index=str(workdir / "index"))
    raw.setdefault("server", {})
    raw["server"] = {**(raw["server"] or {}), "host": HOST, "password": None}
    config = workdir / "rag.yaml"
    config.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    started = time.monotonic()
    build = subprocess.run(
        [sys.executable, "-c", "import sys; from rag.cli import main; sys.exit(main())",
         "--config", str(config), "index", "--quiet"],
        cwd=workdir, env={**os.environ, **APP_ENV}, capture_output=True, text=True,
        timeout=BUILD_TIMEOUT)
    if build.returncode not in (0, 3):  # 3: built, some files skipped
        raise SoakError(f"`rag index` exited {build.returncode}: {build.stderr.strip()[-500:]}")
    return config, time.monotonic() - started


def edit_seed(seeds: Path, n: int) -> Path:
    """Append a paragraph to the first seed file, so the next build has one change."""
    path = sorted(seeds.rglob("*.md"))[0]
    with path.open("a", encoding="utf-8") as f:
        f.write(f"\nSoak test edit {n}: the index was rebuilt while users asked questions.\n")
    return path


# --- the app process -------------------------------------------------------------------------


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process in MB, from ``VmRSS`` in /proc/PID/status."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmRSS:\s+(\d+)\s+kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else None


# --- the HTTP side ---------------------------------------------------------------------------

def connect(url: str):
    from gradio_client import Client

    return Client(url, verbose=False, analytics_enabled=False, download_files=False)


def endpoints(client) -> tuple[str, str, str]:
    """API names of the chat handler, the "Rebuild index" button and the status line.

    Raises:
        SoakError: one of them is missing (did build_app in rag/web.py change?).
    """
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    chat = next((name for name, info in api.items()
                 if [p["component"] for p in info["parameters"]][:2] == ["Textbox", "Chatbot"]
                 and [r["component"] for r in info["returns"]][:1] == ["Chatbot"]), None)
    rebuild = next((name for name in api if "rebuild" in name), None)
    status = next((name for name in api if "status" in name), None)
    if not (chat and rebuild and status):
        raise SoakError(f"chat, rebuild or status endpoint missing among {sorted(api)}")
    return chat, rebuild, status


def ask(client, endpoint: str, question: str, inputs: Sequence[Any]) -> Request:
    """Ask one question in a fresh chat; wait at most REQUEST_TIMEOUT for its final output."""
    sent = time.monotonic()
    job = None
    try:
        job = client.submit(question, [], *inputs, api_name=endpoint)
        final_answer(job.result(timeout=REQUEST_TIMEOUT))
    except Exception as exc:  # any failure is one failed request, not the end of the run
        if isinstance(exc, TimeoutError) and job is not None:
            job.cancel()
        return Request(sent, time.monotonic() - sent, False, f"{type(exc).__name__}: {exc}"[:200])
    return Request(sent, time.monotonic() - sent, True)


def rebuild(client, rebuild_api: str, status_api: str) -> Rebuild:
    """Press "Rebuild index" and wait until the status line no longer says "Rebuilding"."""
    started = time.monotonic()
    status = str(client.predict(api_name=rebuild_api))
    while "Rebuilding" in status and time.monotonic() - started < REBUILD_TIMEOUT:
        time.sleep(STATUS_POLL)
        status = str(client.predict(api_name=status_api))
    wall = time.monotonic() - started
    plain = status.replace("\\", "")  # the status line is escaped Markdown
    line = next((ln for ln in plain.splitlines() if "rebuild" in ln.lower()), plain[-200:])
    seconds = re.search(r"; ([\d.]+) s$", line) if line.startswith("Last rebuild") else None
    return Rebuild(started, wall, float(seconds.group(1)) if seconds else None, line)


# --- the run -----------------------------------------------------------------------------------

def _pct(values: Sequence[float], q: int) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def soak(base_config: Path, users: int, minutes: float, workdir: Path) -> dict[str, Any]:
    """Prepare, start the app, run the clients and two rebuilds, stop the app."""
    load_before = os.getloadavg()[0]
    config, build_s = prepare(workdir, base_config)
    raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    retrieval = raw.get("retrieval") or {}
    inputs = ("", "", ALL_CATEGORIES, retrieval.get("mode", "hybrid"), retrieval.get("top_k", 5))
    port = free_port()
    url = f"http://{HOST}:{port}/"
    requests: list[Request] = []
    rebuilds: list[Rebuild] = []
    rss: list[float] = []

    with tempfile.TemporaryFile(prefix="bench-soak-app-") as log:
        # The soak's own app has no login, whatever this shell sets.
        app = start_app(config, port, log, environ={k: v for k, v in os.environ.items()
                                                    if k != "RAG_PASSWORD"})
        try:
            startup = wait_until_up(url, app, START_TIMEOUT)
            probe = connect(url)
            chat, rebuild_api, status_api = endpoints(probe)
            warm = ask(probe, chat, QUESTIONS[0], inputs)
            if not warm.ok:
                raise SoakError(f"warm-up request failed: {warm.error}")

            stop = threading.Event()
            started = time.monotonic()
            deadline = started + minutes * 60

            def client_loop(user: int) -> None:
                try:
                    client = connect(url)
                except Exception as exc:
                    requests.append(Request(time.monotonic(), 0.0, False, f"connect: {exc}"[:200]))
                    return
                n = user
                try:
                    while time.monotonic() < deadline:
                        requests.append(ask(client, chat, QUESTIONS[n % len(QUESTIONS)], inputs))
                        n += users
                finally:
                    client.close()

            def sample_memory() -> None:
                while True:
                    value = rss_mb(app.pid)
                    if value is not None:
                        rss.append(value)
                    if stop.wait(RSS_EVERY):
                        return

            sampler = threading.Thread(target=sample_memory, name="rss", daemon=True)
            sampler.start()
            clients = [threading.Thread(target=client_loop, args=(u,), name=f"user-{u}",
                                        daemon=True) for u in range(users)]
            for thread in clients:
                thread.start()
            for n, at in enumerate((1 / 3, 2 / 3), 1):
                time.sleep(max(0.0, started + at * minutes * 60 - time.monotonic()))
                edit_seed(workdir / "seeds", n)
                rebuilds.append(rebuild(probe, rebuild_api, status_api))
            for thread in clients:
                thread.join(timeout=max(0.0, deadline - time.monotonic()) + REQUEST_TIMEOUT + 30)
            wall = time.monotonic() - started
            stop.set()
            sampler.join(timeout=RSS_EVERY + 5)
            value = rss_mb(app.pid)
            if value is not None:
                rss.append(value)
            probe.close()
        except AppError as exc:
            raise SoakError(f"{exc}\n--- app output (last lines) ---\n{log_tail(log)}") from None
        finally:
            stop_app(app)

    done = list(requests)
    answered = [r for r in done if r.ok]
    windows = [(b.started, b.started + b.wall_s) for b in rebuilds]
    during = [r for r in done if any(r.sent < end and r.sent + r.latency_s > start
                                     for start, end in windows)]
    latency = [r.latency_s * 1000 for r in answered]
    return {
        "url": url, "users": users, "minutes": minutes, "cpus": os.cpu_count(),
        "initial_build_s": round(build_s, 1), "startup_s": round(startup, 1),
        "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2),
        "requests": len(done), "answered": len(answered), "failed": len(done) - len(answered),
        "requests_during_rebuilds": len(during),
        "failed_during_rebuilds": sum(not r.ok for r in during),
        "wall_s": round(wall, 1),
        "answers_per_s": round(len(answered) / wall, 2) if wall else 0.0,
        "p50_ms": _pct(latency, 50), "p95_ms": _pct(latency, 95),
        "rss_mb": {"first": round(rss[0], 1) if rss else None,
                   "max": round(max(rss), 1) if rss else None,
                   "last": round(rss[-1], 1) if rss else None, "samples": len(rss),
                   "series": [round(v) for v in rss]},
        "rebuilds": [{"build_s": b.build_s, "wall_s": round(b.wall_s, 1), "ok": b.ok,
                      "status": b.status} for b in rebuilds],
        "errors": sorted({r.error for r in done if r.error})[:5],
    }


def report_text(r: dict[str, Any]) -> str:
    rss = r["rss_mb"]
    lines = [
        f"app: {r['url']} ({r['users']} users, {r['minutes']:g} minutes, {r['cpus']} cpus)",
        f"initial rag index seconds: {r['initial_build_s']}",
        f"app start-up seconds: {r['startup_s']}",
        f"load average before: {r['load_before']}",
        f"load average after: {r['load_after']}",
        f"requests: {r['requests']}",
        f"answered: {r['answered']}",
        f"failed: {r['failed']}",
        f"requests during rebuilds: {r['requests_during_rebuilds']} "
        f"({r['failed_during_rebuilds']} failed)",
        f"wall seconds: {r['wall_s']}",
        f"throughput answers/s: {r['answers_per_s']}",
        f"latency p50 ms: {r['p50_ms']}",
        f"latency p95 ms: {r['p95_ms']}",
        f"app RSS MB first / max / last: {rss['first']} / {rss['max']} / {rss['last']} "
        f"({rss['samples']} samples, every {RSS_EVERY:g} s)",
        f"app RSS MB samples: {' '.join(str(v) for v in rss['series'])}",
    ]
    for n, b in enumerate(r["rebuilds"], 1):
        lines.append(f"rebuild {n}: build {b['build_s']} s (app's report), swapped in after "
                     f"{b['wall_s']} s{'' if b['ok'] else ' FAILED'}: {b['status']}")
    lines.extend(f"error: {e}" for e in r["errors"])
    return "\n".join(lines)


def _positive(kind: type):
    def parse(value: str):
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
        if number <= 0:
            raise argparse.ArgumentTypeError(f"{value} must be above 0")
        return number
    return parse


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "rag.yaml"),
                        help="settings to copy (seeds folder, model, retrieval); default rag.yaml")
    parser.add_argument("--users", type=_positive(int), default=16,
                        help="concurrent clients (default 16; the app queues at most 64)")
    parser.add_argument("--minutes", type=_positive(float), default=3.0,
                        help="how long the clients ask (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.users > 64:
        parser.error("--users must be at most 64 (the app's queue size)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    base = Path(args.config).resolve()
    if not base.is_file():
        print(f"error: config file {base} does not exist", file=sys.stderr)
        return 1
    workdir = Path(tempfile.mkdtemp(prefix="rag-soak-"))
    try:
        result = soak(base, args.users, args.minutes, workdir)
    except (AppError, subprocess.TimeoutExpired) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result, indent=1) if args.json else report_text(result))
    return 1 if result["failed"] or not all(b["ok"] for b in result["rebuilds"]) else 0


if __name__ == "__main__":
    sys.exit(main())
