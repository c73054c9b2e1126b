"""The real embedder (rag.model.transformer)'s ways out: when the int8 recipe's export fails, a plain dynamic
int8 export; when that fails too, bfloat16 torch. Each with a warning, and the index
records what was used (a tiny BERT folder, so no big model is exported here)."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertModel

from rag.config import Config, ModelConfig
from rag.index.manifest import IndexSettings
from rag.model.folder import model_folder
from rag.model.transformer import TransformerEmbedder


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny") / "model"
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2,
                         num_attention_heads=4, intermediate_size=64,
                         max_position_embeddings=128)).eval().save_pretrained(folder)
    shutil.copy(model_folder("bundled").path / "tokenizer.json", folder)
    return folder


def _fail(*_args, **_kwargs):
    raise RuntimeError("export exploded")


def _config(folder, tmp_path, **changes) -> ModelConfig:
    return ModelConfig(name=str(folder), cache=str(tmp_path / "cache"), threads=1, **changes)


def test_the_recipe_is_the_default(tiny_folder, tmp_path):
    embedder = TransformerEmbedder(_config(tiny_folder, tmp_path))
    assert (embedder.info.precision, embedder.info.variant) == ("int8", "onnx-r4")
    vectors = embedder.embed(["a short text", "another one"])
    assert vectors.shape == (2, 32)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)


def test_a_failed_recipe_falls_back_to_dynamic_int8(tiny_folder, tmp_path, monkeypatch,
                                                     caplog):
    monkeypatch.setattr("rag.model.int8.recipe.export_int8", _fail)
    with caplog.at_level(logging.WARNING):
        embedder = TransformerEmbedder(_config(tiny_folder, tmp_path))
    assert (embedder.info.precision, embedder.info.variant) == ("int8", "onnx-dynamic")
    assert "export recipe failed" in caplog.text and "export exploded" in caplog.text
    assert embedder.embed(["a short text"]).shape == (1, 32)
    # The index records the variant, so its vectors are never mixed with the recipe's.
    assert IndexSettings.of(Config(), embedder.info).model.variant == "onnx-dynamic"


def test_when_both_exports_fail_torch_bfloat16_runs(tiny_folder, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr("rag.model.int8.recipe.export_int8", _fail)
    monkeypatch.setattr("rag.model.int8.recipe.export_dynamic_int8", _fail)
    with caplog.at_level(logging.WARNING):
        embedder = TransformerEmbedder(_config(tiny_folder, tmp_path))
    assert (embedder.info.precision, embedder.info.variant) == ("bfloat16", "torch")
    assert "cannot be run in int8 (export exploded); running it in bfloat16" in caplog.text
    assert embedder.embed(["a short text"]).shape == (1, 32)


def test_the_cache_folder_comes_from_the_config(tiny_folder, tmp_path):
    TransformerEmbedder(_config(tiny_folder, tmp_path))
    assert list((tmp_path / "cache" / "onnx").rglob("model-int8.onnx"))
