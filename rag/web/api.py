"""The JSON HTTP API beside the page: ``POST /api/ask`` and ``POST /api/search``.

Both take a JSON object (``question`` and the optional ``top_k``, ``since``, ``until``,
``category``, ``mode``; ``collect`` too for ask) and return exactly what the CLI's
``--json`` prints: ``Answer.to_dict()`` for ask, the list of ``Hit.to_dict()`` for
search. Bad input is HTTP 400 with ``{"error": "..."}`` naming the key and the rule
(the retriever's QuestionError messages); with a password set, HTTP basic auth as
``server.username`` is required (401 otherwise).

With a ``WorkerPool`` (``server.processes`` above 1) the answers are computed in its
worker processes, in arrival order; otherwise in threads of this process (``Slots``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import secrets
import threading
from dataclasses import dataclass
from typing import Any, Callable

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from ..errors import QuestionError, RagError
from . import workers as pool_calls
from .reply import IndexHolder
from .workers import MAX_WAITING, PoolBusy, WorkerLost, WorkerPool, busy

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024  # a question is at most 2,000 characters
# key -> (JSON type(s) allowed besides null, how the rule reads); question is required.
_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "question": ((str,), "must be text"),
    "top_k": ((int,), "must be a whole number"),
    "since": ((str,), "must be a date written YYYY-MM-DD"),
    "until": ((str,), "must be a date written YYYY-MM-DD"),
    "category": ((str,), "must be text"),
    "mode": ((str,), "must be text (dense, bm25 or hybrid)"),
    "collect": ((bool,), "must be true, false or null"),
}
SEARCH_KEYS = ("question", "top_k", "since", "until", "category", "mode")
ASK_KEYS = (*SEARCH_KEYS, "collect")


class ApiError(RagError):
    """A request the API refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ApiRequest:
    """One parsed request body; None means "the default" (the config's)."""

    question: str
    top_k: int | None = None
    since: str | None = None
    until: str | None = None
    category: str | None = None
    mode: str | None = None
    collect: bool | None = None

    @property
    def filters(self) -> dict[str, Any]:
        return {"mode": self.mode, "since": self.since, "until": self.until,
                "category": self.category}


def parse_request(body: bytes, endpoint: str, keys: tuple[str, ...]) -> ApiRequest:
    """The request a JSON body asks for, its types checked (the values are checked by
    the retriever, with the same messages as the CLI's).

    Raises:
        ApiError: not JSON, not an object, unknown or missing keys, wrong types.
    """
    where = f"POST {endpoint}"
    try:
        raw = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ApiError(f"{where}: the body is not UTF-8 (byte {exc.start + 1})") from None
    except json.JSONDecodeError as exc:
        raise ApiError(f"{where}: the body is not JSON ({exc.msg} at line {exc.lineno} "
                       f"column {exc.colno}); send an object such as "
                       '{"question": "Who was nominated to the Federal Reserve Board?"}') \
            from None
    if not isinstance(raw, dict):
        raise ApiError(f"{where}: the body must be a JSON object with a question, "
                       f"not {_json_type(raw)}")
    unknown = sorted(set(raw) - set(keys))
    if unknown:
        raise ApiError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))} "
                       f"(known: {', '.join(keys)})")
    if "question" not in raw:
        raise ApiError(f"{where}: the key 'question' is missing; "
                       "type a question about the releases")
    for key, value in raw.items():
        types, rule = _KEYS[key]
        if value is None and key != "question":
            continue
        # bool is an int subclass in Python: keep them apart so top_k: true is refused.
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise ApiError(f"{where}: {key} = {json.dumps(value)} {rule}, "
                           f"not {_json_type(value)}")
    return ApiRequest(**raw)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "text",
            list: "an array", dict: "an object"}.get(type(value), type(value).__name__)


# What computes a request: a function of rag.web.workers (run in a worker process or
# here) with its arguments after the index.
Call = tuple[Callable[..., Any], tuple, dict[str, Any]]


def ask_call(request: ApiRequest) -> Call:
    """``POST /api/ask``: ``Answer.to_dict()`` of the question, as ``rag ask --json``
    prints it (with ``collect: true`` the answer carries the ``collection``)."""
    return (pool_calls.answer_dict, (request.question, request.top_k),
            {"collect": request.collect, **request.filters})


def search_call(request: ApiRequest) -> Call:
    """``POST /api/search``: the hits' ``to_dict()``, as ``rag search --json`` prints
    them."""
    return pool_calls.hit_dicts, (request.question, request.top_k), request.filters


def ask_json(holder: IndexHolder, request: ApiRequest) -> dict[str, Any]:
    """What ``POST /api/ask`` answers, computed here (see :func:`ask_call`).

    Raises:
        QuestionError: an unusable question or filter.
    """
    function, args, kwargs = ask_call(request)
    return function(holder.index, *args, **kwargs)


def search_json(holder: IndexHolder, request: ApiRequest) -> list[dict[str, Any]]:
    """What ``POST /api/search`` answers, computed here (see :func:`search_call`).

    Raises:
        QuestionError: an unusable question or filter.
    """
    function, args, kwargs = search_call(request)
    return function(holder.index, *args, **kwargs)


def check_basic_auth(header: str | None, username: str, password: str | None) -> None:
    """Pass when no password is set or ``header`` is HTTP basic auth with the login.

    Raises:
        ApiError: (401) no, malformed or wrong credentials.
    """
    if not password:
        return
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise ApiError("this server asks for a login: send HTTP basic auth "
                       f"(curl -u {username}:PASSWORD)", status=401)
    try:
        given_user, _, given_password = base64.b64decode(encoded.strip(), validate=True) \
            .decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError("the Authorization header is not valid basic auth "
                       "(base64 of username:password)", status=401) from None
    # Both compared, in constant time, so a wrong name and a wrong password look alike.
    ok_user = secrets.compare_digest(given_user.encode(), username.encode())
    ok_password = secrets.compare_digest(given_password.encode(), password.encode())
    if not (ok_user and ok_password):
        raise ApiError("wrong username or password", status=401)


class Slots:
    """At most ``workers`` answers run at once; up to MAX_WAITING more wait their turn,
    and past that a request is refused (503) rather than left to pile up."""

    def __init__(self, workers: int):
        self.workers = workers
        self._running = threading.BoundedSemaphore(workers)
        self._lock = threading.Lock()
        self._inside = 0

    def run(self, work: Callable[[], Any]) -> Any:
        with self._lock:
            if self._inside >= self.workers + MAX_WAITING:
                raise ApiError(busy(MAX_WAITING), status=503)
            self._inside += 1
        try:
            with self._running:
                return work()
        finally:
            with self._lock:
                self._inside -= 1


def add_routes(app: FastAPI, holder: IndexHolder, username: str, password: str | None,
               workers: int, pool: WorkerPool | None = None) -> None:
    """Register ``POST /api/ask`` and ``POST /api/search`` on a FastAPI app.

    Each request is answered by ``pool``'s worker processes when there is one, else in
    a thread of the server's pool, at most ``workers`` at once (``Slots``); errors are
    ``{"error": message}`` with status 400 (bad input), 401 (login), 413 (body too
    big), 503 (busy, or the worker answering it stopped: ask again) or 500 (a bug,
    logged).
    """
    slots = Slots(workers)

    def error(exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Basic realm="rag"'} if exc.status == 401 \
            else {"Retry-After": "1"} if exc.status == 503 else None
        return JSONResponse({"error": str(exc)}, status_code=exc.status, headers=headers)

    async def compute(call: Call) -> Any:
        function, args, kwargs = call
        if pool is None:
            return await run_in_threadpool(slots.run,
                                           lambda: function(holder.index, *args, **kwargs))
        return await asyncio.wrap_future(pool.submit(function, *args, index=holder.index,
                                                     **kwargs))

    def endpoint(path: str, keys: tuple[str, ...],
                 make_call: Callable[[ApiRequest], Call]) -> None:
        async def route(request: Request) -> JSONResponse:
            try:
                check_basic_auth(request.headers.get("authorization"), username, password)
                body = await _body(request)
                parsed = parse_request(body, path, keys)
                result = await compute(make_call(parsed))
            except ApiError as exc:
                return error(exc)
            except (PoolBusy, WorkerLost) as exc:
                return error(ApiError(f"POST {path}: {exc}", status=503))
            except QuestionError as exc:
                return error(ApiError(f"POST {path}: {exc}"))
            except RagError as exc:  # e.g. the index could not be read: not the user's fault
                log.error("POST %s: %s", path, exc)
                return error(ApiError(f"POST {path}: {exc}", status=500))
            except Exception:
                log.exception("POST %s failed", path)
                return error(ApiError(f"POST {path}: internal error (see the server's log)",
                                      status=500))
            return JSONResponse(result)

        async def wrong_method(request: Request) -> JSONResponse:
            return JSONResponse({"error": f"{request.method} {path}: use POST with a JSON "
                                          'body, e.g. {"question": "..."}'},
                                status_code=405, headers={"Allow": "POST"})

        app.add_api_route(path, route, methods=["POST"], include_in_schema=False)
        # Without this a GET would fall through to the page's mount and get its 404.
        app.add_api_route(path, wrong_method, methods=["GET", "PUT", "DELETE", "PATCH"],
                          include_in_schema=False)

    endpoint("/api/ask", ASK_KEYS, ask_call)
    endpoint("/api/search", SEARCH_KEYS, search_call)


async def _body(request: Request) -> bytes:
    """The request body, refused (413) past MAX_BODY_BYTES."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(f"the body is {declared} bytes; the limit is {MAX_BODY_BYTES}",
                       status=413)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(f"the body is over {MAX_BODY_BYTES} bytes", status=413)
    return body
