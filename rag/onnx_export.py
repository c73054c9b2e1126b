"""The int8 ONNX export of a sentence-transformers encoder (``precision: int8``).

Imported only when an export is made (it needs torch and transformers); the result is
cached by ``rag.embedding.onnx_model_file``. Bump ``rag.embedding.ONNX_RECIPE`` when
anything here changes what the exported model computes.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import onnx
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from tokenizers import Tokenizer
from transformers import AutoModel
from transformers.utils import logging as hf_logging

from .embedding import ModelFolder

# SmoothQuant's migration strength: how much of an input channel's range moves into the
# weights (0: none, 1: all). 0.65-0.85 agreed best with float32 here (benchmarks/RESULTS.md).
SMOOTHING_ALPHA = 0.7
CALIBRATION_TEXTS = Path(__file__).with_name("calibration.jsonl")


def export_int8(folder: ModelFolder, out: Path) -> None:
    """Export the encoder to ONNX (last hidden state out) and quantize it to int8.

    The activations of every quantized matrix product are quantized per call with one
    scale, so a few values with a wide range cost all the others their precision. Two
    changes, neither of which alters the float model's output, keep that range narrow:

    - the first and last token ([CLS] and [SEP]), whose activations are far larger than
      the others', go through each product in float (two rows; slicing them off and
      joining them back costs about a tenth of the int8 speed);
    - each input channel is divided by a factor that the weight rows it meets are
      multiplied by (SmoothQuant), moving the channel's range into the weights, which
      are quantized per output channel.
    """
    hf_logging.disable_progress_bar()
    # Eager attention exports as plain MatMul/Softmax, which the quantizer handles.
    model = AutoModel.from_pretrained(str(folder.path), attn_implementation="eager").eval()
    for parent, name, linear in _quantized_linears(model):
        setattr(parent, name, EndsApart(linear))
    _smooth(model, folder, SMOOTHING_ALPHA)

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    example = tuple(torch.ones(1, 8, dtype=torch.long) for _ in range(3))
    names = ["input_ids", "attention_mask", "token_type_ids"]
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(Encoder().eval(), example, str(out / "model.onnx"), input_names=names,
                          output_names=["hidden"], opset_version=17, dynamo=False,
                          dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names + ["hidden"]})
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer logs advice about pre-processing
    float_nodes = _own_weights(out / "model.onnx")
    try:
        # Matrix products only: the embedding tables stay float (a lookup gains nothing).
        quantize_dynamic(str(out / "model.onnx"), str(out / "model-int8.onnx"),
                         weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"], nodes_to_exclude=float_nodes,
                         extra_options={"DefaultTensorType": 1})  # 1: float
    finally:
        root.setLevel(level)


def _own_weights(path: Path) -> list[str]:
    """Give each product in the ONNX file at ``path`` its own weight initializer.

    The exporter stores a weight used twice once and passes it on through Identity
    nodes; the quantizer only quantizes a product whose weight is an initializer.
    Returns the names of the products that are to stay float.
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
    return [node.name for node in graph.node if f"/{EndsApart.FLOAT}/" in node.name]


def _quantized_linears(model) -> list[tuple[Any, str, Any]]:
    """(parent, attribute, linear) of each linear layer of the encoder's blocks."""
    found = []
    for layer in getattr(getattr(model, "encoder", None), "layer", []):
        for parent in layer.modules():
            for name, child in parent.named_children():
                if isinstance(child, torch.nn.Linear):
                    found.append((parent, name, child))
    return found


class EndsApart(torch.nn.Module):
    """A linear layer whose first and last token rows go through a float copy
    (exported as a product under ``FLOAT``, which quantization leaves alone)."""

    FLOAT = "float_ends"

    def __init__(self, linear: torch.nn.Linear):
        super().__init__()
        self.quantized = linear
        copy = torch.nn.Linear(linear.in_features, linear.out_features)
        copy.weight, copy.bias = linear.weight, linear.bias  # shared: smoothing scales both
        setattr(self, self.FLOAT, copy)

    @property
    def weight(self) -> torch.Tensor:
        return self.quantized.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ends = getattr(self, self.FLOAT)(torch.cat([x[:, :1], x[:, -1:]], dim=1))
        return torch.cat([ends[:, :1], self.quantized(x[:, 1:-1]), ends[:, 1:]], dim=1)


def _smoothing_groups(model) -> list[tuple[Any, list[Any]]]:
    """(module, linears) pairs of a BERT-style encoder: the linears read the module's
    input. Layers of another shape are left out (quantized without smoothing)."""
    groups: list[tuple[Any, list[Any]]] = []
    for layer in getattr(getattr(model, "encoder", None), "layer", []):
        try:
            attention = layer.attention
            groups += [
                (attention.self, [attention.self.query, attention.self.key,
                                  attention.self.value]),
                (attention.output.dense, [attention.output.dense]),
                (layer.intermediate, [layer.intermediate.dense]),
                (layer.output.dense, [layer.output.dense]),
            ]
        except AttributeError:
            continue
    return groups


def _first_input(args: tuple, kwargs: dict):
    return args[0] if args else kwargs["hidden_states"]


def _smooth(model, folder: ModelFolder, alpha: float) -> None:
    """Apply SmoothQuant to ``model`` in place, calibrated on CALIBRATION_TEXTS.

    Channel j of a group's input is divided by s_j = a_j**alpha / w_j**(1 - alpha)
    (a_j: its largest magnitude over the calibration passages, w_j: the largest
    weight it meets) and the weights it meets are multiplied by s_j.
    """
    groups = _smoothing_groups(model)
    if not groups:
        return
    tokenizer = Tokenizer.from_file(str(folder.path / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(folder.max_tokens)
    texts = [json.loads(line) for line in
             CALIBRATION_TEXTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    maxima: list[Any] = [None] * len(groups)

    def record(k: int):
        def hook(module, args, kwargs):
            x = _first_input(args, kwargs)[:, 1:-1]  # the rows that are quantized
            seen = x.detach().abs().reshape(-1, x.shape[-1]).amax(dim=0)
            maxima[k] = seen if maxima[k] is None else torch.maximum(maxima[k], seen)
        return hook

    handles = [module.register_forward_pre_hook(record(k), with_kwargs=True)
               for k, (module, _) in enumerate(groups)]
    try:
        with torch.inference_mode():
            for encoding in tokenizer.encode_batch(texts):
                ids = torch.tensor([encoding.ids])
                model(input_ids=ids, attention_mask=torch.ones_like(ids),
                      token_type_ids=torch.zeros_like(ids))
    finally:
        for handle in handles:
            handle.remove()

    def divide(inverse):
        def hook(module, args, kwargs):
            if args:
                return (args[0] * inverse,) + tuple(args[1:]), kwargs
            kwargs["hidden_states"] = kwargs["hidden_states"] * inverse
            return args, kwargs
        return hook

    with torch.no_grad():
        for (module, linears), seen in zip(groups, maxima):
            weights = torch.stack([lin.weight.abs().amax(dim=0) for lin in linears]).amax(dim=0)
            scale = seen.clamp(min=1e-5) ** alpha / weights.clamp(min=1e-5) ** (1 - alpha)
            for lin in linears:
                lin.weight.mul_(scale)
            module.register_forward_pre_hook(divide(1 / scale), with_kwargs=True)
