"""Questions: ``retrieve`` (a loaded index searched with dates and filters -> ``Hit``),
``fusion`` and ``dates`` (its parts), ``answer`` (``Hit`` -> ``Answer``: verbatim,
cited sentences) with ``answer_types`` and ``links``, and ``index`` (the ``Index``
that puts retrieval and answers behind one object)."""
