"""Unit vectors: normalising, and the int8 storage of sentence vectors."""

import numpy as np

from rag.vectors import dequantize_unit, normalise, quantize_unit


def test_normalise_gives_unit_rows_and_keeps_zero_rows():
    vectors = normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert vectors.dtype == np.float32
    assert np.allclose(vectors, [[0.6, 0.8], [0.0, 0.0]])


def test_int8_storage_keeps_directions():
    rng = np.random.default_rng(0)
    vectors = normalise(rng.normal(size=(50, 384)))
    stored = quantize_unit(vectors)
    assert stored.dtype == np.int8 and np.abs(stored).max() == 127
    back = dequantize_unit(stored)
    assert np.allclose(np.linalg.norm(back, axis=1), 1, atol=1e-6)
    assert np.min(np.sum(back * vectors, axis=1)) > 0.9999
    assert quantize_unit(np.zeros((0, 384))).shape == (0, 384)
