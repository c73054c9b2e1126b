"""The int8 export's float rewrite of a BERT encoder computes what the model computes."""

import pytest
import torch
from transformers import BertConfig, BertModel, DistilBertConfig, DistilBertModel

from rag.model.int8.recipe import SplitEncoder


def _tiny_bert(**overrides) -> BertModel:
    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=64,
                        max_position_embeddings=64, attn_implementation="eager", **overrides)
    return BertModel(config).eval()


def _ids(length: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, 50, (1, length), generator=generator)
    ids[0, 0], ids[0, -1] = 1, 2  # stand-ins for [CLS] and [SEP]
    return ids


@pytest.mark.parametrize("length", [2, 3, 17])
def test_split_encoder_equals_the_model(length):
    model = _tiny_bert()
    split = SplitEncoder(model).eval()
    ids = _ids(length)
    with torch.inference_mode():
        expected = model(input_ids=ids).last_hidden_state
        assert torch.allclose(split(ids), expected, atol=1e-5)


def test_smoothing_leaves_the_float_output_unchanged():
    model = _tiny_bert()
    ids = _ids(12, seed=1)
    with torch.inference_mode():
        expected = model(input_ids=ids).last_hidden_state.clone()
    split = SplitEncoder(model).eval()
    split.smooth([_ids(n, seed=n) for n in (5, 9, 20)], alpha=0.7)
    # Every product's weights changed (ends and middle alike) ...
    assert not torch.allclose(model.encoder.layer[0].intermediate.dense.weight,
                              split.ends[0]["intermediate"].weight)
    with torch.inference_mode():
        # ... and the inputs are divided by the same factors, so the function is the same.
        assert torch.allclose(split(ids), expected, atol=1e-4)


def test_split_encoder_fits_bert_layouts_only():
    assert SplitEncoder.fits(_tiny_bert())
    assert not SplitEncoder.fits(_tiny_bert(position_embedding_type="relative_key"))
    distil = DistilBertModel(DistilBertConfig(vocab_size=50, dim=32, n_layers=1, n_heads=4,
                                              hidden_dim=64))
    assert not SplitEncoder.fits(distil)


def test_export_int8_of_a_bert_folder_agrees_with_the_model(tmp_path):
    import shutil

    import numpy as np
    import onnxruntime as ort

    from rag.model.folder import ModelFolder, model_folder
    from rag.model.int8.recipe import export_int8

    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2,
                                 num_attention_heads=4, intermediate_size=64,
                                 max_position_embeddings=128)).eval()
    model.save_pretrained(tmp_path / "model")
    # The bundled model's tokenizer: the calibration passages need its vocabulary.
    shutil.copy(model_folder("bundled").path / "tokenizer.json", tmp_path / "model")
    folder = ModelFolder(tmp_path / "model", "tiny", 32, 128, "mean",
                         tmp_path / "model" / "model.safetensors")
    (tmp_path / "out").mkdir()
    export_int8(folder, tmp_path / "out")

    session = ort.InferenceSession(str(tmp_path / "out" / "model-int8.onnx"),
                                   providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input_ids"]  # the split encoder
    for length in (2, 9, 40):
        ids = _ids(length, seed=length) + 1000
        ids[0, 0], ids[0, -1] = 101, 102
        with torch.inference_mode():
            expected = model(input_ids=ids).last_hidden_state[0].numpy()
        got = session.run(None, {"input_ids": ids.numpy()})[0][0]
        assert got.shape == expected.shape
        cosine = np.sum(got * expected, axis=1) / (np.linalg.norm(got, axis=1)
                                                   * np.linalg.norm(expected, axis=1))
        assert cosine.min() > 0.99
