"""The index on disk: ``manifest`` (typed, with the one compatibility check), ``store``
(generations swapped in atomically, the build lock, pruning), ``lexical`` (BM25 as term
counts), ``dense`` (FAISS), ``build`` (plan -> embed -> assemble -> write) and
``staleness`` (what changed in the seeds folder since), and the vector-store seam:
``vectorstore`` (the searches a loaded index asks for; FAISS + BM25 in this process),
``qdrant`` (the same searches in Qdrant, a collection per generation) and ``serving``
(which back-end serves, publish and rollback)."""
