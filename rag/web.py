"""The web page: a Gradio search over the index (the full chat comes later)."""

from __future__ import annotations

import html
import logging
import os
import sys

from .config import Config
from .errors import IndexMismatchError, IndexNotFoundError, RagError
from .search import Index, load_index

log = logging.getLogger(__name__)


def ensure_index(config: Config) -> Index:
    """Load the index, building or updating it first when missing, stale or mismatched."""
    from .build import build_index, check_staleness
    from .embedding import load_embedder
    from . import store

    embedder = load_embedder(config.model)
    try:
        manifest = store.read_manifest(store.resolve(config.index))
        stale = check_staleness(manifest, config.seeds)
        needs_build = stale.stale
        why = f"index is stale ({stale.describe()})"
        if not needs_build:
            return load_index(config.index, config, embedder)
    except (IndexNotFoundError, IndexMismatchError, RagError) as exc:
        needs_build, why = True, str(exc)
    print(f"{why}: building the index from {config.seeds} ...", file=sys.stderr, flush=True)
    report = build_index(config, embedder, progress=True)
    print(report.summary(), file=sys.stderr, flush=True)
    return load_index(config.index, config, embedder)


def render_hits(hits) -> str:
    """Hits as HTML; everything from a release is escaped."""
    if not hits:
        return "<p>No passages found.</p>"
    parts = []
    for h in hits:
        parts.append(
            f'<div class="hit"><h4>{h.rank}. <a href="{html.escape(h.url, quote=True)}" '
            f'target="_blank" rel="noopener noreferrer">{html.escape(h.title)}</a></h4>'
            f'<p class="meta">{h.date.isoformat()} · {html.escape(h.category)} · '
            f'score {h.score:.3f}</p><p>{html.escape(h.text)}</p></div>')
    return "\n".join(parts)


def build_app(index: Index, config: Config):
    import gradio as gr

    def search(question: str, top_k: float) -> str:
        try:
            return render_hits(index.retrieve(question, int(top_k)))
        except RagError as exc:
            return f'<p class="error">{html.escape(str(exc))}</p>'

    with gr.Blocks(title="White House releases search") as demo:
        gr.Markdown(f"# White House releases\n{index.release_count} releases, "
                    f"{len(index)} passages.")
        question = gr.Textbox(label="Question", placeholder="Which countries received new "
                                                             "battle groups?")
        top_k = gr.Slider(1, 20, value=config.retrieval.top_k, step=1, label="Passages")
        button = gr.Button("Search", variant="primary")
        results = gr.HTML()
        gr.Examples(["Which countries received new battle groups?"], inputs=[question])
        button.click(search, [question, top_k], results)
        question.submit(search, [question, top_k], results)
    return demo


def serve(config: Config, host: str | None = None, port: int | None = None) -> None:
    """Build the index if needed, then serve the page until interrupted."""
    index = ensure_index(config)
    host = host or os.environ.get("GRADIO_SERVER_NAME") or config.server.host
    port = port or int(os.environ.get("GRADIO_SERVER_PORT") or config.server.port)
    build_app(index, config).launch(server_name=host, server_port=port)
