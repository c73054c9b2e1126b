"""The model: the ``Embedder`` seam, model folders on disk, and the backends that run
them (ONNX Runtime in int8 by default, torch in bfloat16 or float32).

``embedder`` holds the seam every other module depends on; ``folder`` finds a model
on disk (never downloading); ``onnx`` and ``torch_encoder`` turn token ids into hidden
states; ``transformer`` puts tokenising, a backend and pooling together; ``int8/``
is the export recipe that makes the int8 ONNX model.
"""
