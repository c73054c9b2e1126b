"""Which language model to ask, if any: the ``llm`` settings, validated at the edge."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import ConfigError

_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_URL_RE = re.compile(r"https?://[^/\s?#]+(?:[/?#]\S*)?")


@dataclass(frozen=True)
class LLMSettings:
    """An OpenAI-compatible chat-completions server and how to call it.

    Off by default: nothing calls a model unless both ``base_url`` (e.g.
    ``http://127.0.0.1:8080/v1``) and ``model`` are set. ``api_key_env`` names the
    environment variable that holds the key; the caller reads it at the edge
    (:func:`read_api_key`) and passes the key in. ``timeout`` bounds the whole call,
    in seconds; ``max_tokens`` the length of the reply.
    """

    base_url: str = ""
    model: str = ""
    api_key_env: str = ""
    timeout: float = 30.0
    max_tokens: int = 400

    @property
    def enabled(self) -> bool:
        """Whether a model is configured (both base_url and model are set)."""
        return bool(self.base_url.strip() and self.model.strip())

    def validate(self) -> None:
        """Raise ConfigError naming the key, its value and the rule it breaks."""
        for key in ("base_url", "model", "api_key_env"):
            _require(isinstance(getattr(self, key), str), f"llm.{key}", getattr(self, key),
                     "must be text")
        if self.base_url:
            _require(bool(_URL_RE.fullmatch(self.base_url)), "llm.base_url", self.base_url,
                     "must start with http:// or https:// and name a host, "
                     "e.g. http://127.0.0.1:8080/v1")
        _require(bool(self.model.strip()) or not self.base_url, "llm.model", self.model,
                 "must be set when llm.base_url is (the model name the server knows)")
        _require(bool(self.base_url) or not self.model.strip(), "llm.base_url", self.base_url,
                 "must be set when llm.model is (e.g. http://127.0.0.1:8080/v1)")
        _require(not self.api_key_env or bool(_ENV_NAME_RE.fullmatch(self.api_key_env)),
                 "llm.api_key_env", self.api_key_env,
                 "must be the name of an environment variable (letters, digits, _), "
                 "not the key itself")
        _require(_is_number(self.timeout) and 0.1 <= self.timeout <= 600, "llm.timeout",
                 self.timeout, "must be a number of seconds between 0.1 and 600")
        _require(_is_whole(self.max_tokens) and 16 <= self.max_tokens <= 8192,
                 "llm.max_tokens", self.max_tokens, "must be a whole number between 16 and 8192")


def read_api_key(settings: LLMSettings, environ: Mapping[str, str]) -> str | None:
    """The API key from ``environ`` (the caller passes ``os.environ`` at the edge).

    Returns None when ``api_key_env`` is empty (a local server needs no key).

    Raises:
        ConfigError: ``api_key_env`` names a variable that is not set or empty.
    """
    if not settings.api_key_env:
        return None
    key = environ.get(settings.api_key_env, "")
    _require(bool(key.strip()), "llm.api_key_env", settings.api_key_env,
             "names an environment variable that is not set; export it with the key, "
             "or clear llm.api_key_env for a server that needs none")
    _require(bool(re.fullmatch(r"[!-~]+", key.strip())), "llm.api_key_env", settings.api_key_env,
             "names a variable whose value holds spaces or control characters; "
             "it must hold only the key")
    return key.strip()


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _require(ok: bool, key: str, value: Any, rule: str) -> None:
    if not ok:
        raise ConfigError(f"{key} = {value!r} {rule}")
