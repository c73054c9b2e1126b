"""Torch backend: the sentence-transformers model's encoder in float32 or bfloat16."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .folder import ModelFolder
from .offline import offline


class TorchEncoder:
    """Hidden states from the sentence-transformers model's encoder in torch, in
    float32 or bfloat16, batched by length."""

    def __init__(self, folder: ModelFolder, precision: str, batch_size: int):
        offline()  # before transformers and sentence-transformers are imported
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        self._torch = torch
        try:
            model = SentenceTransformer(str(folder.path), device="cpu")[0].auto_model
        except Exception as exc:  # the library raises many kinds; all mean "cannot load"
            raise ConfigError(f"model {folder.path} cannot be loaded: "
                              f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") \
                from None
        if precision == "bfloat16":
            model = model.to(torch.bfloat16)
        self._model = model.eval()
        self._batch = batch_size

    def hidden_many(self, ids: list[np.ndarray]) -> list[np.ndarray]:
        torch = self._torch
        out: list[np.ndarray] = [np.empty(0)] * len(ids)
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        for b in range(0, len(order), self._batch):
            rows = order[b:b + self._batch]
            width = max(len(ids[r]) for r in rows)
            batch = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros_like(batch)
            for k, r in enumerate(rows):
                batch[k, :len(ids[r])] = ids[r]
                mask[k, :len(ids[r])] = 1
            with torch.inference_mode():
                hidden = self._model(input_ids=torch.from_numpy(batch),
                                     attention_mask=torch.from_numpy(mask),
                                     token_type_ids=torch.zeros_like(torch.from_numpy(batch))
                                     ).last_hidden_state.float().numpy()
            for k, r in enumerate(rows):
                out[r] = hidden[k, :len(ids[r])]
        return out
