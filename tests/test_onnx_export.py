"""The int8 export's float rewrite of a BERT encoder computes what the model computes."""

import pytest
import torch
from transformers import BertConfig, BertModel, DistilBertConfig, DistilBertModel

from rag.onnx_export import SplitEncoder


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
