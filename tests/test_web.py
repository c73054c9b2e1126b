"""The Gradio app in-process (fake embedder): launch options, login, files, status."""

import socket
import urllib.error
import urllib.parse
import urllib.request

import pytest

from rag.index.build import build_index
from rag.config import ServerConfig, apply_environment
from rag import load_index
from rag.web.app import AppState, build_app, launch_options


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status(url: str, data: bytes | None = None) -> int:
    try:
        return urllib.request.urlopen(url, data, timeout=10).status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_launch_options_default_to_loopback_without_login(config):
    options = launch_options(config)
    assert options["server_name"] == "127.0.0.1" and options["server_port"] == 7860
    assert options["auth"] is None and options["max_file_size"] == "1mb"


def test_password_from_config_or_environment(config):
    with_password = config.replace(server=ServerConfig(password="hunter2"))
    assert launch_options(with_password)["auth"] == ("rag", "hunter2")
    from_env = apply_environment(config, {"RAG_PASSWORD": "s3cret",
                                          "GRADIO_SERVER_NAME": "0.0.0.0",
                                          "GRADIO_SERVER_PORT": "8000"})
    options = launch_options(from_env)
    assert options["auth"] == ("rag", "s3cret")
    assert (options["server_name"], options["server_port"]) == ("0.0.0.0", 8000)


@pytest.mark.parametrize("password", [None, "s3cret"])
def test_login_is_required_when_a_password_is_set(state, config, password):
    options = launch_options(config.replace(server=ServerConfig(password=password)))
    options.update(server_port=_free_port(), prevent_thread_lock=True, quiet=True)
    demo = build_app(state)
    demo.queue(max_size=64)
    demo.launch(**options)
    base = f"http://127.0.0.1:{options['server_port']}"
    try:
        assert _status(base + "/") == 200
        assert _status(base + "/config") == (401 if password else 200)
        # No file of the machine is served, logged in or not.
        assert _status(base + "/gradio_api/file=/etc/passwd") in (403, 404, 401)
        if password:
            wrong = urllib.parse.urlencode({"username": "rag", "password": "nope"}).encode()
            right = urllib.parse.urlencode({"username": "rag", "password": password}).encode()
            assert _status(base + "/login", wrong) == 400
            assert _status(base + "/login", right) == 200
    finally:
        demo.close()


def test_status_reports_index_and_staleness(state, seeds):
    assert "3 releases" in state.status() and "⚠️" not in state.status()
    (seeds / "statements-releases/2022-03/oil.md").unlink()
    assert "⚠️ The releases changed since this index was built \\(1 removed\\)" in state.status()


def _generate_box(demo):
    return next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "generate")


def test_respond_streams_the_draft_then_the_checked_reply(config, embedder):
    from generate_helpers import ScriptedServer, start_server
    from rag.config import AnswerConfig, LLMSettings
    from rag.web.app import respond

    script = ScriptedServer()
    server = start_server(script)
    try:
        build_index(config, embedder, progress=False)
        with_llm = config.replace(answer=AnswerConfig(min_score=0.2),
                                  llm=LLMSettings(base_url=script.url, model="m", timeout=5))
        state = AppState(with_llm, load_index(config.index, with_llm, embedder))
        question = "Which countries received new battle groups?"
        quote = state.index.answer(question).quotes[0]
        script.stream([quote.text, " [Q1]", " They sent 75,000 troops [Q1]."])
        replies = [(h[-1]["content"], panel) for h, panel in
                   respond(state, question, [], "", "", "All categories", "hybrid", 5, True)]
        drafts = [c for c, _ in replies if c.startswith("*Draft from your language model")]
        assert drafts and "75,000" in drafts[-1]
        final, panel = replies[-1]
        assert final.startswith("✓ ") and "✗ ~~They sent 75,000 troops" in final
        assert "*dropped: number 75,000 is not in \\[" in final
        assert "<mark>" in panel  # the quotes in the Sources panel, as without generating
        assert _generate_box(build_app(state)).visible
    finally:
        server.shutdown()
        server.server_close()


def test_generate_checkbox_is_hidden_without_a_model(state):
    assert not _generate_box(build_app(state)).visible


def test_the_status_line_parses_a_touched_file_once(state, seeds, monkeypatch):
    import os

    from rag.index import staleness

    parsed = []
    real = staleness.read_release
    monkeypatch.setattr(staleness, "read_release",
                        lambda path, root: parsed.append(path.name) or real(path, root))
    nato = seeds / "statements-releases/2022-03/nato.md"
    os.utime(nato, ns=(1, 1))  # touched: same content, another stamp
    assert "⚠️" not in state.status() and "⚠️" not in state.status()
    assert parsed == ["nato.md"]  # the second check only stat'ed it
    nato.write_text(nato.read_text() + "\nA new paragraph.\n")
    assert "\\(1 changed\\)" in state.status() and parsed == ["nato.md", "nato.md"]
