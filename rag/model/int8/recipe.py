"""The int8 ONNX export of a sentence-transformers encoder (``precision: int8``).

Imported only when an export is made (it needs torch and transformers); the result is
cached by ``rag.model.onnx.onnx_model_file``. Bump ``rag.model.int8.RECIPE`` when
anything here changes what the exported model computes. ``export_dynamic_int8`` is
the way out when the recipe fails: the model exported as it is and quantized plainly.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Iterable

from ..offline import offline

offline()  # before transformers is imported

import onnx  # noqa: E402
import torch  # noqa: E402
from onnxruntime.quantization import QuantType, quantize_dynamic  # noqa: E402
from transformers import AutoModel  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

from ..folder import ModelFolder, model_tokenizer  # noqa: E402

# SmoothQuant's migration strength: how much of an input channel's range moves into the
# weights (0: none, 1: all). 0.65-0.85 agreed best with float32 here (benchmarks/RESULTS.md).
SMOOTHING_ALPHA = 0.7
CALIBRATION_TEXTS = Path(__file__).with_name("calibration.jsonl")
# The products of each block, by the input they read: queries/keys/values read the
# block's input, the attention output its context, and so on.
GROUPS = (("query", "key", "value"), ("attention_output",), ("intermediate",), ("output",))


def export_int8(folder: ModelFolder, out: Path) -> None:
    """Export the encoder to ONNX (last hidden state out) and quantize it to int8.

    The activations of every quantized matrix product are quantized per call with one
    scale, so a few values with a wide range cost all the others their precision. Two
    changes, neither of which alters the float model's output, keep that range narrow
    for a BERT-style encoder (``SplitEncoder``):

    - the first and last token ([CLS] and [SEP]), whose activations are far larger than
      the others', are carried through the blocks as a tensor of their own, so they are
      quantized apart from the other rows; they meet the others only in attention,
      which stays float;
    - each input channel is divided by a factor that the weight rows it meets are
      multiplied by (SmoothQuant), moving the channel's range into the weights, which
      are quantized per output channel. The two tensors get factors of their own.

    Another architecture is exported as it is and quantized without these changes.
    """
    model = _load(folder)
    if SplitEncoder.fits(model):
        encoder: torch.nn.Module = SplitEncoder(model)
        encoder.smooth(_calibration_ids(folder), SMOOTHING_ALPHA)
        names = ["input_ids"]
    else:
        encoder = _Plain(model)
        names = ["input_ids", "attention_mask", "token_type_ids"]
    _export_quantized(encoder, names, out)


def export_dynamic_int8(folder: ModelFolder, out: Path) -> None:
    """Export the encoder as it is (ids, mask and token types in) and quantize its
    matrix products to int8 with dynamic activation scales, without the recipe's
    changes: less exact (cosine with float32 about 0.993 for all-MiniLM-L6-v2, against
    0.9993), but it asks nothing of the model's layout."""
    _export_quantized(_Plain(_load(folder)), ["input_ids", "attention_mask", "token_type_ids"],
                      out)


def _load(folder: ModelFolder):
    hf_logging.disable_progress_bar()
    # Eager attention exports as plain MatMul/Softmax, which the quantizer handles.
    return AutoModel.from_pretrained(str(folder.path), attn_implementation="eager").eval()


def _export_quantized(encoder: torch.nn.Module, names: list[str], out: Path) -> None:
    """``encoder`` to ``out/model.onnx``, then its products quantized into
    ``out/model-int8.onnx``."""
    example = tuple(torch.ones(1, 8, dtype=torch.long) for _ in names)
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(encoder.eval(), example, str(out / "model.onnx"), input_names=names,
                          output_names=["hidden"], opset_version=17, dynamo=False,
                          dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names + ["hidden"]})
    _own_weights(out / "model.onnx")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer logs advice about pre-processing
    try:
        # Matrix products only: the embedding tables stay float (a lookup gains nothing).
        quantize_dynamic(str(out / "model.onnx"), str(out / "model-int8.onnx"),
                         weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"],
                         extra_options={"DefaultTensorType": 1})  # 1: float
    finally:
        root.setLevel(level)


class _Plain(torch.nn.Module):
    """Another architecture, exported as it is: ids, mask and token types in."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.model(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).last_hidden_state


def _own_weights(path: Path) -> None:
    """Give each product in the ONNX file at ``path`` its own weight initializer.

    The exporter stores a weight used twice once and passes it on through Identity
    nodes; the quantizer only quantizes a product whose weight is an initializer.
    """
    model = onnx.load(str(path))
    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    for node in list(graph.node):
        if node.op_type == "Identity" and node.input[0] in initializers:
            copy = onnx.TensorProto()
            copy.CopyFrom(initializers[node.input[0]])
            copy.name = node.output[0]
            graph.initializer.append(copy)
            graph.node.remove(node)
    onnx.save(model, str(path))


def _calibration_ids(folder: ModelFolder) -> list[torch.Tensor]:
    texts = [json.loads(line) for line in
             CALIBRATION_TEXTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [torch.tensor([e.ids]) for e in model_tokenizer(folder).encode_batch(texts)]


def _block_linears(layer) -> dict[str, torch.nn.Linear]:
    return {"query": layer.attention.self.query, "key": layer.attention.self.key,
            "value": layer.attention.self.value,
            "attention_output": layer.attention.output.dense,
            "intermediate": layer.intermediate.dense, "output": layer.output.dense}


def _copy(linear: torch.nn.Linear) -> torch.nn.Linear:
    copy = torch.nn.Linear(linear.in_features, linear.out_features)
    with torch.no_grad():
        copy.weight.copy_(linear.weight)
        copy.bias.copy_(linear.bias)
    return copy


class SplitEncoder(torch.nn.Module):
    """A BERT-style encoder computed as two tensors: the first and last token rows
    ("ends") and the rows between ("middle"), each through products of its own.

    Without padding (one text per call, no attention mask) attention does not depend on
    the order of the rows, so the output equals the model's, row for row.
    """

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.heads = model.config.num_attention_heads
        self.ends = torch.nn.ModuleList(
            torch.nn.ModuleDict({name: _copy(linear)
                                 for name, linear in _block_linears(layer).items()})
            for layer in model.encoder.layer)
        self._inverse: dict[tuple[int, int, str], torch.Tensor] = {}
        self._seen: dict[tuple[int, int, str], torch.Tensor] | None = None

    @staticmethod
    def fits(model) -> bool:
        """Whether ``model`` has the BERT layout this class computes."""
        config = model.config
        try:
            _ = model.embeddings
            layers = list(model.encoder.layer)
            for layer in layers:
                _block_linears(layer)
                _ = (layer.attention.output.LayerNorm, layer.output.LayerNorm,
                     layer.intermediate.intermediate_act_fn)
        except AttributeError:
            return False
        return bool(layers) and not getattr(config, "is_decoder", False) \
            and getattr(config, "position_embedding_type", "absolute") in (None, "absolute") \
            and config.hidden_size % config.num_attention_heads == 0

    def _linear(self, layer: int, part: str, name: str) -> torch.nn.Linear:
        if part == "ends":
            return self.ends[layer][name]
        return _block_linears(self.model.encoder.layer[layer])[name]

    def _input(self, layer: int, group: int, part: str, x: torch.Tensor) -> torch.Tensor:
        key = (layer, group, part)
        if self._seen is not None:
            seen = x.detach().abs().reshape(-1, x.shape[-1]).amax(dim=0)
            self._seen[key] = torch.maximum(self._seen[key], seen) if key in self._seen \
                else seen
        inverse = self._inverse.get(key)
        return x if inverse is None else x * inverse

    def smooth(self, calibration: Iterable[torch.Tensor], alpha: float) -> None:
        """SmoothQuant, calibrated on token id rows: channel j of a product's input is
        divided by s_j = a_j**alpha / w_j**(1 - alpha) (a_j: its largest magnitude
        seen, w_j: the largest weight it meets), and those weights multiplied by s_j."""
        seen: dict[tuple[int, int, str], torch.Tensor] = {}
        self._seen = seen
        try:
            with torch.inference_mode():
                for ids in calibration:
                    self(ids)
        finally:
            self._seen = None
        with torch.no_grad():
            for (layer, group, part), largest in seen.items():
                linears = [self._linear(layer, part, name) for name in GROUPS[group]]
                weights = torch.stack([lin.weight.abs().amax(dim=0)
                                       for lin in linears]).amax(dim=0)
                scale = largest.clamp(min=1e-5) ** alpha / weights.clamp(min=1e-5) ** (1 - alpha)
                for lin in linears:
                    lin.weight.mul_(scale)
                self._inverse[(layer, group, part)] = 1 / scale

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        hidden = self.model.embeddings(input_ids=input_ids)
        parts = {"ends": torch.cat([hidden[:, :1], hidden[:, -1:]], dim=1),
                 "middle": hidden[:, 1:-1]}
        for number, layer in enumerate(self.model.encoder.layer):
            parts = self._block(number, layer, parts)
        ends, middle = parts["ends"], parts["middle"]
        return torch.cat([ends[:, :1], middle, ends[:, 1:]], dim=1)

    def _block(self, number: int, layer, parts: dict[str, torch.Tensor]
               ) -> dict[str, torch.Tensor]:
        def product(name: str, group: int, part: str, x: torch.Tensor) -> torch.Tensor:
            return self._linear(number, part, name)(self._input(number, group, part, x))

        def heads(name: str) -> torch.Tensor:
            # Ends first: attention is the same whatever the order of its rows.
            y = torch.cat([product(name, 0, part, parts[part]) for part in ("ends", "middle")],
                          dim=1)
            return y.view(1, -1, self.heads, y.shape[-1] // self.heads).transpose(1, 2)

        query, key, value = heads("query"), heads("key"), heads("value")
        scores = torch.matmul(query, key.transpose(-1, -2)) * query.shape[-1] ** -0.5
        context = torch.matmul(scores.softmax(dim=-1), value).transpose(1, 2)
        context = context.reshape(1, -1, query.shape[1] * query.shape[-1])
        contexts = {"ends": context[:, :2], "middle": context[:, 2:]}
        out = {}
        for part, x in parts.items():
            attended = layer.attention.output.LayerNorm(
                product("attention_output", 1, part, contexts[part]) + x)
            inner = layer.intermediate.intermediate_act_fn(
                product("intermediate", 2, part, attended))
            out[part] = layer.output.LayerNorm(product("output", 3, part, inner) + attended)
        return out
