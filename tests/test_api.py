"""The JSON API (rag/web/api.py) beside the page, with the fake embedder: the same
shapes as the CLI's --json, 400s that say what is wrong, the login, many at once."""

from __future__ import annotations

import base64
import concurrent.futures
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest

from rag import cli, load_index
from rag.config import ServerConfig
from rag.web import api
from rag.web.app import AppState
from rag.web.server import server_app

QUESTIONS = ["Which countries received new battle groups?",
             "How many barrels of oil per day will be released?",
             "Can every household order free at-home COVID-19 tests?",
             "What did the summit say about collective defense?",
             "When do tests ship?", "What is the test to treat programme?",
             "Which reserve is oil released from?", "Who met on the anniversary?"]


def _json(value):
    """What a value looks like after a trip through JSON (tuples become lists, ...)."""
    return json.loads(json.dumps(value))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def client(state, config):
    from fastapi.testclient import TestClient

    with TestClient(server_app(state, config, workers=2)) as test_client:
        yield test_client


def test_ask_returns_answer_to_dict(client, state):
    for body in ({"question": QUESTIONS[0]},
                 {"question": QUESTIONS[1], "top_k": 2, "mode": "bm25"},
                 {"question": QUESTIONS[2], "since": "2022-03-01", "until": "2022-03-10",
                  "category": "statements-releases", "collect": False},
                 {"question": QUESTIONS[0], "collect": True, "top_k": None}):
        response = client.post("/api/ask", json=body)
        assert response.status_code == 200, response.text
        question, rest = body["question"], {k: v for k, v in body.items() if k != "question"}
        top_k = rest.pop("top_k", None)
        expected = state.index.answer(question, top_k, **rest).to_dict()
        assert response.json() == _json(expected)
    assert "collection" in response.json()  # collect: true carries the timeline


def test_search_returns_hit_dicts(client, state):
    response = client.post("/api/search", json={"question": QUESTIONS[1], "top_k": 2,
                                                "until": "2022-03-31", "mode": "dense"})
    assert response.status_code == 200, response.text
    hits = state.index.search(QUESTIONS[1], 2, until="2022-03-31", mode="dense").hits
    assert response.json() == _json([h.to_dict() for h in hits]) and len(hits) == 2
    # Filters that match nothing are an empty list, not an error.
    empty = client.post("/api/search", json={"question": "oil", "since": "2030-01-01"})
    assert empty.status_code == 200 and empty.json() == []


def test_the_shapes_are_what_the_cli_prints(fake_model, tmp_path, seeds, capsys):
    conf = tmp_path / "rag.yaml"
    conf.write_text(f"seeds: {seeds}\nindex: {tmp_path / 'index'}\n"
                    "chunking:\n  max_tokens: 40\n  header_tokens: 16\n")
    assert cli.main(["--config", str(conf), "index", "--quiet"]) == 0
    capsys.readouterr()
    from fastapi.testclient import TestClient

    from rag import load_config

    config = load_config(conf)
    holder = AppState(config, load_index(config.index, config, fake_model))
    with TestClient(server_app(holder, config)) as http:
        for command, argv in (("ask", ["--top-k", "3"]), ("search", ["--mode", "bm25"])):
            assert cli.main(["--config", str(conf), command, QUESTIONS[0], "--json",
                             *argv]) == 0
            printed = json.loads(capsys.readouterr().out)
            body = {"question": QUESTIONS[0],
                    **({"top_k": 3} if command == "ask" else {"mode": "bm25"})}
            assert http.post(f"/api/{command}", json=body).json() == printed


LONG = "why " * 600
BAD = [  # (endpoint, body: bytes or a JSON value, what the message must say)
    ("ask", b"Who was nominated?", r"POST /api/ask: the body is not JSON \(Expecting value"),
    ("search", b"", r"POST /api/search: the body is not JSON"),
    ("ask", b"\xff\xfe", r"the body is not UTF-8"),
    ("ask", ["Who?"], r"the body must be a JSON object with a question, not an array"),
    ("ask", {}, r"the key 'question' is missing"),
    ("search", {"top_k": 3}, r"the key 'question' is missing"),
    ("ask", {"question": ""}, r"POST /api/ask: the question is empty"),
    ("search", {"question": "   "}, r"POST /api/search: the question is empty"),
    ("ask", {"question": None}, r"question = null must be text, not null"),
    ("ask", {"question": 42}, r"question = 42 must be text, not a number"),
    ("ask", {"question": LONG}, r"the question is 2399 characters long; the limit is 2000"),
    ("ask", {"question": "oil", "top-k": 3},
     r"unknown key\(s\) 'top-k' \(known: question, top_k, since, until, category, mode, "
     r"collect\)"),
    ("search", {"question": "oil", "collect": True}, r"unknown key\(s\) 'collect'"),
    ("ask", {"question": "oil", "top_k": "5"}, r'top_k = "5" must be a whole number, not text'),
    ("ask", {"question": "oil", "top_k": True}, r"top_k = true must be a whole number"),
    ("search", {"question": "oil", "top_k": 2.5}, r"top_k = 2.5 must be a whole number"),
    ("search", {"question": "oil", "top_k": 0}, r"top_k = 0 must be between 1 and 100"),
    ("ask", {"question": "oil", "top_k": 101}, r"top_k = 101 must be between 1 and 100"),
    ("ask", {"question": "oil", "since": "2022-13-01"},
     r"since = '2022-13-01' must be a date written YYYY-MM-DD"),
    ("search", {"question": "oil", "until": "March 2022"},
     r"until = 'March 2022' must be a date written YYYY-MM-DD"),
    ("ask", {"question": "oil", "since": 20220301},
     r"since = 20220301 must be a date written YYYY-MM-DD, not a number"),
    ("search", {"question": "oil", "since": "2022-03-31", "until": "2022-03-01"},
     r"since \(2022-03-31\) is after until \(2022-03-01\)"),
    ("ask", {"question": "oil", "mode": "fuzzy"},
     r"mode = 'fuzzy' must be one of dense, bm25, hybrid"),
    ("search", {"question": "oil", "category": "speeches"},
     r"category 'speeches' is not in the index \(known: statements-releases\)"),
    ("ask", {"question": "oil", "collect": "yes"},
     r'collect = "yes" must be true, false or null, not text'),
]


@pytest.mark.parametrize("endpoint, body, message", BAD)
def test_bad_input_is_a_400_that_says_what_is_wrong(client, endpoint, body, message):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = client.post(f"/api/{endpoint}", content=content,
                           headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert list(response.json()) == ["error"]
    assert re.search(message, response.json()["error"]), response.json()["error"]


def test_a_body_past_the_limit_is_refused(client):
    response = client.post("/api/ask", json={"question": "x" * (api.MAX_BODY_BYTES + 1)})
    assert response.status_code == 413
    assert re.search(r"the body is \d+ bytes; the limit is 65536", response.json()["error"])


def test_only_post_is_served(client):
    response = client.get("/api/ask")
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert re.search(r"GET /api/ask: use POST with a JSON body", response.json()["error"])


def _basic(user: str, password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_the_password_protects_the_api_and_the_page(state, config):
    from fastapi.testclient import TestClient

    locked = config.replace(server=ServerConfig(password="s3cret"))
    with TestClient(server_app(state, locked)) as http:
        body = {"question": QUESTIONS[0]}
        for headers, why in (({}, r"asks for a login: send HTTP basic auth \(curl -u rag:"),
                             (_basic("rag", "nope"), r"wrong username or password"),
                             (_basic("admin", "s3cret"), r"wrong username or password"),
                             ({"authorization": "Bearer s3cret"}, r"asks for a login"),
                             ({"authorization": "Basic !!!"}, r"not valid basic auth")):
            response = http.post("/api/ask", json=body, headers=headers)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == 'Basic realm="rag"'
            assert re.search(why, response.json()["error"])
        # The login is checked before the body: no hint about the input without it.
        assert http.post("/api/search", content=b"junk").status_code == 401
        ok = http.post("/api/ask", json=body, headers=_basic("rag", "s3cret"))
        assert ok.status_code == 200 and ok.json() == _json(state.index.answer(QUESTIONS[0])
                                                            .to_dict())
        assert http.get("/config").status_code == 401  # the page still asks for its login


def test_without_a_password_no_login_is_asked(client):
    assert client.post("/api/search", json={"question": "oil"}).status_code == 200
    assert client.get("/config").status_code == 200
    assert client.get("/").status_code == 200  # the page is still served at /


def test_basic_auth_rules():
    api.check_basic_auth(None, "rag", None)  # no password: nothing asked
    api.check_basic_auth(_basic("rag", "pw:with:colons")["authorization"], "rag",
                         "pw:with:colons")
    with pytest.raises(api.ApiError, match="wrong username or password"):
        api.check_basic_auth(_basic("rag", "pw")["authorization"], "rag", "pw:with:colons")


def test_slots_refuse_past_the_waiting_limit(monkeypatch):
    monkeypatch.setattr(api, "MAX_WAITING", 0)
    slots, started, release = api.Slots(1), threading.Event(), threading.Event()

    def slow():
        started.set()
        release.wait(10)
        return "done"

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        first = pool.submit(slots.run, slow)
        assert started.wait(10)
        with pytest.raises(api.ApiError, match=r"the server is busy \(0 questions waiting\)") \
                as refused:
            slots.run(lambda: "never")
        assert refused.value.status == 503
        release.set()
        assert first.result(10) == "done"
    assert slots.run(lambda: "again") == "again"  # a slot is free once more


@pytest.fixture
def live_url(state, config):
    """The page and the API served by uvicorn on a free loopback port, as `rag serve` does."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(server_app(state, config, workers=2),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def _post(url: str, body: object) -> tuple[int, object]:
    request = urllib.request.Request(url, json.dumps(body).encode(),
                                     {"content-type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_many_at_once_over_http_all_answer_as_in_process(live_url, state):
    expected = {q: _json(state.index.answer(q).to_dict()) for q in QUESTIONS}
    go = threading.Barrier(len(QUESTIONS))

    def ask(question):
        go.wait(10)  # all eight sent together
        return _post(live_url + "/api/ask", {"question": question})

    with concurrent.futures.ThreadPoolExecutor(len(QUESTIONS)) as pool:
        replies = list(pool.map(ask, QUESTIONS * 2))
    assert [status for status, _ in replies] == [200] * len(QUESTIONS) * 2
    assert [body for _, body in replies] == [expected[q] for q in QUESTIONS * 2]
    status, body = _post(live_url + "/api/search", {"question": "oil", "top_k": 0})
    assert status == 400 and body == {"error": "POST /api/search: top_k = 0 must be "
                                               "between 1 and 100"}


def test_the_page_queue_answers_one_per_worker_and_polls_gently(state, config):
    from rag.web import server

    app = server_app(state, config, workers=3)
    blocks = next(route.app.get_blocks() for route in app.routes
                  if hasattr(getattr(route, "app", None), "get_blocks"))
    assert blocks._queue.default_concurrency_limit == 3
    assert blocks._queue.max_size == server.QUEUE_SIZE
    assert blocks._queue.sleep_when_free == server.QUEUE_POLL_S
