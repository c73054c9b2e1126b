"""Ingest: release files -> ``Release`` -> ``Passage``.

``markdown`` turns a Markdown body into plain text, ``sentences`` finds sentence and
paragraph spans in it, ``releases`` reads files into releases (bad files skipped and
reported), and ``chunking`` cuts releases into passages sized in model word pieces.
"""
