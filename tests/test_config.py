from pathlib import Path

import pytest

from rag.config import load_config
from rag.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def test_defaults_without_a_file(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config.seeds == tmp_path / "seeds" and config.index == tmp_path / "index"
    assert config.model.name == "bundled" and config.chunking.max_tokens == 160


def test_repo_config_file_is_valid_and_matches_defaults():
    config = load_config(REPO / "rag.yaml")
    assert config.seeds == REPO / "seeds" and config.index == REPO / "index"
    assert config.chunking.max_tokens == 160 and config.retrieval.top_k == 5


def test_relative_paths_resolve_against_the_file(tmp_path: Path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "rag.yaml").write_text("seeds: ../data\nindex: idx\n")
    config = load_config(tmp_path / "conf" / "rag.yaml")
    assert config.seeds == tmp_path / "data" and config.index == tmp_path / "conf" / "idx"


@pytest.mark.parametrize("text, message", [
    ("colour: blue\n", r"unknown key\(s\) colour"),
    ("model:\n  size: 3\n", r"unknown key model.size \(known: batch_size, cache, name, precision, threads\)"),
    ("chunking:\n  max_tokens: lots\n", "chunking.max_tokens = 'lots' must be a whole number"),
    ("chunking:\n  header: 1\n", "chunking.header = 1 must be true or false"),
    ("chunking: 3\n", "chunking must be a mapping"),
    ("model:\n  precision: int4\n", "model.precision = 'int4' must be int8, bfloat16 or float32"),
    ("model:\n  batch_size: 0\n", "model.batch_size = 0 must be between 1 and 1024"),
    ("retrieval:\n  top_k: 500\n", "retrieval.top_k = 500 must be between 1 and 100"),
    ("retrieval:\n  faiss: ivf\n", "retrieval.faiss = 'ivf' must be one of auto, flat, hnsw"),
    ("retrieval:\n  hnsw_from: 0\n", "retrieval.hnsw_from = 0 must be a whole number of "
                                     "passages, at least 1"),
    ("retrieval:\n  hnsw_from: 1.5\n", "retrieval.hnsw_from = 1.5 must be a whole number"),
    ("server:\n  port: 70000\n", "server.port = 70000 must be between 0 and 65535"),
    ("server:\n  processes: -1\n", r"server.processes = -1 must be between 0 \(one per core\) and 64"),
    ("server:\n  processes: 65\n", r"server.processes = 65 must be between 0 \(one per core\) and 64"),
    ("server:\n  processes: two\n", "server.processes = 'two' must be a whole number"),
    ("seeds: 3\n", "seeds = 3 must be a folder path"),
    ("- a list\n", "the top level must be a mapping"),
    ("key: [unclosed\n", "is not valid YAML"),
])
def test_bad_config_is_refused(tmp_path: Path, text, message):
    path = tmp_path / "rag.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_missing_config_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "nope.yaml")


def test_environment_overrides_are_applied_once_at_load(tmp_path: Path):
    from rag.config import load_config

    path = tmp_path / "rag.yaml"
    path.write_text("server:\n  password: fromfile\nmodel:\n  cache: cache-here\n")
    config = load_config(path, environ={"RAG_PASSWORD": "fromenv",
                                        "GRADIO_SERVER_NAME": "0.0.0.0",
                                        "GRADIO_SERVER_PORT": "8123"})
    assert (config.server.password, config.server.host, config.server.port) == \
        ("fromenv", "0.0.0.0", 8123)
    assert config.model.cache == str(tmp_path / "cache-here")  # relative to the file


def test_the_model_cache_defaults_to_the_environment_then_the_user_cache(tmp_path: Path):
    from rag.config import load_config

    path = tmp_path / "rag.yaml"
    path.write_text("{}\n")
    assert load_config(path, environ={"RAG_CACHE_DIR": "/x/y"}).model.cache == "/x/y"
    assert load_config(path, environ={"XDG_CACHE_HOME": "/c"}).model.cache == \
        "/c/whitehouse-rag"
    assert load_config(path, environ={}).model.cache.endswith(".cache/whitehouse-rag")


def test_a_bad_port_in_the_environment_is_named(tmp_path: Path):
    from rag.config import load_config

    with pytest.raises(ConfigError, match=r"GRADIO_SERVER_PORT = 'eighty' must be a whole "
                                          r"number"):
        load_config(None,
                    environ={"GRADIO_SERVER_PORT": "eighty"})


@pytest.mark.parametrize("text, message", [
    ("llm:\n  temperature: 0.2\n", r"unknown key llm.temperature \(known: api_key_env, "
                                   r"base_url, max_tokens, model, timeout\)"),
    ("llm:\n  base_url: ftp://host/v1\n  model: m\n",
     r"llm.base_url = 'ftp://host/v1' must start with http:// or https://"),
    ("llm:\n  base_url: http://127.0.0.1:8080/v1\n", "llm.model = '' must be set when "
                                                    "llm.base_url is"),
    ("llm:\n  model: smollm2\n", "llm.base_url = '' must be set when llm.model is"),
    ("llm:\n  api_key_env: sk-abc123\n", r"llm.api_key_env = 'sk-abc123' must be the name of "
                                         "an environment variable"),
    ("llm:\n  timeout: 0\n", "llm.timeout = 0.0 must be a number of seconds between 0.1 and 600"),
    ("llm:\n  timeout: soon\n", "llm.timeout = 'soon' must be a number"),
    ("llm:\n  max_tokens: 8\n", "llm.max_tokens = 8 must be a whole number between 16 and 8192"),
    ("llm:\n  model: 3\n", "llm.model = 3 must be a string"),
    ("llm: on\n", "llm must be a mapping"),
])
def test_bad_llm_section_is_refused(tmp_path: Path, text, message):
    path = tmp_path / "rag.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_llm_is_off_by_default_and_the_key_is_read_once_at_load(tmp_path: Path):
    assert not load_config(REPO / "rag.yaml").llm.enabled
    path = tmp_path / "rag.yaml"
    path.write_text("llm:\n  base_url: http://127.0.0.1:8080/v1\n  model: smollm2\n"
                    "  api_key_env: MY_LLM_KEY\n  timeout: 5\n")
    config = load_config(path, environ={"MY_LLM_KEY": "sk-secret"})
    assert config.llm.enabled and config.llm.timeout == 5.0
    assert config.llm_api_key == "sk-secret" and "sk-secret" not in repr(config)
    # Without the variable the config still loads (`rag index` needs no key) ...
    assert load_config(path, environ={}).llm_api_key is None
