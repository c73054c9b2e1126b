"""A small OpenAI-compatible chat-completions client over the standard library.

Every way the call can fail (no server, timeout, HTTP error, a reply that is not the
expected JSON, no text) becomes one :class:`ModelCallError` whose message is a short
phrase for the user's note; nothing else escapes.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Iterator

from ..errors import RagError
from .settings import LLMSettings

# Answers are checked against the quotes, so the most likely wording is the one wanted.
TEMPERATURE = 0.0
# Statuses a server gives for a request with "stream": true that it does not support.
_NO_STREAM_STATUSES = (400, 404, 405, 415, 422, 501)
_CHUNK = 8192
_HEADER_SAFE_RE = re.compile(r"[!-~]+")


class ModelCallError(RagError):
    """The language model could not give a usable reply (the message says why)."""


def endpoint(settings: LLMSettings) -> str:
    """The chat-completions URL: ``base_url`` + ``/chat/completions`` unless it has it."""
    base = settings.base_url.rstrip("/")
    return base if base.endswith("/chat/completions") else base + "/chat/completions"


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _opener(url: str) -> urllib.request.OpenerDirector:
    # A server on this machine is never reached through the environment's proxy.
    if _is_loopback(url):
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()


def _request(settings: LLMSettings, messages: list[dict[str, str]], api_key: str | None,
             stream: bool) -> urllib.request.Request:
    if api_key and not _HEADER_SAFE_RE.fullmatch(api_key):
        # http.client would refuse it with the key in its message; never show the key.
        raise ModelCallError("the API key holds spaces or control characters")
    body = {"model": settings.model, "messages": messages, "max_tokens": settings.max_tokens,
            "temperature": TEMPERATURE, "stream": stream}
    headers = {"Content-Type": "application/json",
               "Accept": "text/event-stream" if stream else "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return urllib.request.Request(endpoint(settings), data=json.dumps(body).encode("utf-8"),
                                  headers=headers, method="POST")


def _http_error(error: urllib.error.HTTPError) -> ModelCallError:
    detail = ""
    try:
        payload = json.loads(error.read(4096).decode("utf-8", "replace"))
        message = payload.get("error", {}).get("message", "") if isinstance(payload, dict) else ""
        detail = f": {' '.join(str(message).split())[:120]}" if message else ""
    except (OSError, ValueError, AttributeError, http.client.HTTPException):
        pass
    return ModelCallError(f"the language model server answered HTTP {error.code}{detail}")


def _call_error(error: BaseException, settings: LLMSettings,
                api_key: str | None) -> ModelCallError:
    """The ModelCallError for an exception raised while calling or reading (the API
    key, should any message hold it, is blanked out)."""
    found = _classify(error, settings)
    if api_key and api_key in str(found):
        return ModelCallError(str(found).replace(api_key, "***"))
    return found


def _classify(error: BaseException, settings: LLMSettings) -> ModelCallError:
    if isinstance(error, ModelCallError):
        return error
    if isinstance(error, urllib.error.HTTPError):
        return _http_error(error)
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return ModelCallError(f"the language model timed out after {settings.timeout:g} s")
    if isinstance(reason, ConnectionRefusedError):
        return ModelCallError(f"cannot reach the language model at {settings.base_url} "
                              "(connection refused)")
    text = str(getattr(reason, "strerror", None) or reason) or type(reason).__name__
    return ModelCallError(f"cannot reach the language model at {settings.base_url} ({text})")


def _open(settings: LLMSettings, messages: list[dict[str, str]], api_key: str | None,
          stream: bool) -> http.client.HTTPResponse:
    request = _request(settings, messages, api_key, stream)
    return _opener(request.full_url).open(request, timeout=settings.timeout)


def _read(response: http.client.HTTPResponse, deadline: float) -> bytes:
    # The socket timeout bounds each read; the deadline bounds a server that trickles.
    parts = []
    while chunk := response.read1(_CHUNK):
        parts.append(chunk)
        if time.monotonic() > deadline:
            raise TimeoutError
    return b"".join(parts)


def _content(payload: Any) -> str:
    """The reply's text from a chat-completions JSON body (ModelCallError if none)."""
    if not isinstance(payload, dict):
        raise ModelCallError("the language model server sent JSON that is not a reply")
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices:
        raise ModelCallError("the language model reply has no choices")
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    content = message.get("content", choice.get("text"))
    if not isinstance(content, str) or not content.strip():
        raise ModelCallError("the language model returned an empty answer")
    return content


def _parse(body: bytes) -> str:
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ModelCallError("the language model server sent a reply that is not valid JSON") \
            from None
    return _content(payload)


def chat_completion(settings: LLMSettings, messages: list[dict[str, str]],
                    api_key: str | None = None) -> str:
    """The model's reply to ``messages`` (one non-streaming chat-completions call).

    Args:
        settings: A validated, enabled LLMSettings.
        messages: Chat messages, e.g. from :func:`rag.generate.prompt.build_messages`.
        api_key: Sent as a Bearer token when given.

    Returns:
        The text of the first choice.

    Raises:
        ModelCallError: The call failed or the reply holds no text.
    """
    deadline = time.monotonic() + settings.timeout
    try:
        with _open(settings, messages, api_key, stream=False) as response:
            body = _read(response, deadline)
    except Exception as error:  # every failure becomes one note, never a traceback
        raise _call_error(error, settings, api_key) from None
    return _parse(body)


def _sse_deltas(response: http.client.HTTPResponse, deadline: float) -> Iterator[str]:
    """The text deltas of a server-sent-events chat-completions stream."""
    for raw in response:
        if time.monotonic() > deadline:
            raise TimeoutError
        line = raw.decode("utf-8", "replace").strip()
        if not line.startswith("data:"):
            continue  # blank separators, comments, "event:" lines
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            payload = json.loads(data)
        except ValueError:
            raise ModelCallError("the language model server sent a stream event that is not "
                                 "valid JSON") from None
        if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
            raise ModelCallError("the language model server reported an error: "
                                 f"{str(payload['error'].get('message', ''))[:120]}")
        choices = payload.get("choices") if isinstance(payload, dict) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            continue  # e.g. a final usage-only event
        delta = choices[0].get("delta") or choices[0].get("message") or {}
        text = delta.get("content") if isinstance(delta, dict) else None
        if isinstance(text, str) and text:
            yield text


def stream_chat_completion(settings: LLMSettings, messages: list[dict[str, str]],
                           api_key: str | None = None) -> Iterator[str]:
    """The model's reply as it is written: text chunks from a ``stream: true`` call.

    A server that answers with one JSON body instead of an event stream, or that
    refuses streaming requests, is read (or asked again) without streaming.

    Yields:
        Pieces of the reply, in order; together they are the whole reply.

    Raises:
        ModelCallError: The call failed or the reply holds no text (possibly after
            some chunks were yielded).
    """
    deadline = time.monotonic() + settings.timeout
    try:
        response = _open(settings, messages, api_key, stream=True)
    except urllib.error.HTTPError as error:
        if error.code not in _NO_STREAM_STATUSES:
            raise _call_error(error, settings, api_key) from None
        error.close()
        yield chat_completion(settings, messages, api_key)  # with a timeout of its own
        return
    except Exception as error:
        raise _call_error(error, settings, api_key) from None
    wrote = False
    try:
        with response:
            if "text/event-stream" not in response.headers.get("Content-Type", ""):
                yield _parse(_read(response, deadline))
                return
            for text in _sse_deltas(response, deadline):
                wrote = wrote or bool(text.strip())
                yield text
    except Exception as error:
        raise _call_error(error, settings, api_key) from None
    if not wrote:
        raise ModelCallError("the language model returned an empty answer")
