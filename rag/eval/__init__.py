"""Evaluation: ``metrics`` (pure functions on ranks and flags), ``questions`` (question
sets), ``run`` (an index measured on a set) and ``beir`` (standard BEIR folders)."""
