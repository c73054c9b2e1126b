"""The web app in a subprocess, for the benchmarks: start it on a free loopback port,
wait until its page answers, read its chat replies, stop it. Only 127.0.0.1 is ever
contacted."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
# The app must reach nothing but its clients: no telemetry, no model hub.
APP_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_DISABLE_TELEMETRY": "1",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


# What the chat shows while a reply is on its way, and in front of an error reply.
PLACEHOLDER = "Searching the releases"
ERROR_MARK = "⚠️"


class AppError(Exception):
    """The app did not start, or stopped, or does not offer what the benchmark needs."""


def free_port() -> int:
    """A loopback port nobody listens on right now (the app binds it moments later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_app(config: Path, port: int, log: IO[bytes],
              environ: dict[str, str] | None = None) -> subprocess.Popen:
    """``python app.py`` on 127.0.0.1:port, its output going to ``log``."""
    command = [sys.executable, str(REPO / "app.py"), "--config", str(config),
               "--host", HOST, "--port", str(port)]
    env = dict(os.environ if environ is None else environ)
    return subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env={**env, **APP_ENV})


def wait_until_up(url: str, app: subprocess.Popen, timeout: float) -> float:
    """Poll the app's page until it answers 200; return the seconds it took.

    Raises:
        AppError: the app exited, or did not answer within ``timeout`` seconds.
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if app.poll() is not None:
            raise AppError(f"the app exited with code {app.returncode} before answering")
        try:
            with opener.open(url, timeout=5) as page:
                if page.status == 200:
                    return time.monotonic() - started
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise AppError(f"the app did not answer {url} within {timeout:g} s")


def stop_app(app: subprocess.Popen) -> None:
    """Terminate the app process we started; kill it if it does not exit in 15 s."""
    if app.poll() is not None:
        return
    app.terminate()
    try:
        app.wait(timeout=15)
    except subprocess.TimeoutExpired:
        app.kill()
        app.wait(timeout=5)


def log_tail(log: IO[bytes], lines: int = 15) -> str:
    """The last lines the app wrote to ``log``."""
    log.flush()
    log.seek(0)
    return "\n".join(log.read().decode(errors="replace").splitlines()[-lines:])


def final_answer(result: Any) -> str:
    """The assistant's text in a job's final (history, sources panel) output.

    Raises:
        ValueError: the output holds no real answer.
    """
    history = result[0] if isinstance(result, (tuple, list)) and result else None
    if not history or not isinstance(history[-1], dict) or history[-1].get("role") != "assistant":
        raise ValueError(f"final output has no assistant message: {str(result)[:120]!r}")
    content = history[-1].get("content")
    if isinstance(content, list):  # Gradio 6 messages: [{"type": "text", "text": ...}, ...]
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    text = str(content or "")
    if not text.strip() or PLACEHOLDER in text:
        raise ValueError("the answer never replaced the placeholder")
    if text.startswith(ERROR_MARK):
        raise ValueError(f"the app answered with an error: {text[:120]!r}")
    return text
