"""The index on disk: ``manifest`` (typed, with the one compatibility check), ``store``
(generations swapped in atomically, the build lock, pruning), ``lexical`` (BM25 as term
counts), ``dense`` (FAISS), ``build`` (plan -> embed -> assemble -> write) and
``staleness`` (what changed in the seeds folder since)."""
