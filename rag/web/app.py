"""The web app: a Gradio chat that answers with cited, highlighted passages."""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import threading
from typing import Any, Iterator

from ..config import Config
from ..errors import RagError
from ..index import store
from ..index.build import build_index
from ..index.staleness import check_staleness
from ..model.embedder import Embedder
from ..query.followup import rewrite
from ..query.index import Index
from .conversation import conversation_turn
from .render import (CSS, answer_markdown, answering_markdown, draft_markdown, escape_markdown,
                     generated_markdown, sources_html, status_markdown)

log = logging.getLogger(__name__)

EXAMPLES = [
    "Which countries received new battle groups?",
    "How many barrels of oil per day will be released from the Strategic Petroleum Reserve?",
    "What sanctions were announced on Russian banks in late February 2022?",
    "Who was nominated to the Federal Reserve Board?",
]
ALL_CATEGORIES = "All categories"


def ensure_index(config: Config, embedder: Embedder) -> Index:
    """Load the index, building or updating it first when missing, stale or mismatched.

    Progress goes to the terminal (stderr).
    """
    try:
        manifest = store.read_manifest(store.resolve(config.index))
        stale = check_staleness(manifest, config.seeds)
        if not stale.stale:
            return Index.load(config.index, embedder, config)
        why = f"index is stale ({stale.describe()} release files)"
    except RagError as exc:
        why = str(exc)
    print(f"{why}: building the index from {config.seeds} ...", file=sys.stderr, flush=True)
    report = build_index(config, embedder, progress=True)
    print(report.summary(), file=sys.stderr, flush=True)
    return Index.load(config.index, embedder, config)


class AppState:
    """The index the app answers from, shared by all sessions, and its rebuilds.

    A rebuild runs in a thread; questions keep being answered from the old index
    until the new one is loaded and swapped in under the lock.
    """

    def __init__(self, config: Config, index: Index):
        self.config = config
        self._index = index
        self._lock = threading.Lock()
        self._building = False
        self.last_build = ""

    @property
    def index(self) -> Index:
        with self._lock:
            return self._index

    def stale_note(self) -> str:
        if self._building:
            return "Rebuilding the index; answers come from the current one until it is done."
        try:
            stale = self.index.staleness(self.config.seeds)
        except OSError as exc:
            return f"cannot check {self.config.seeds}: {exc}"
        if stale.stale:
            return (f"The releases changed since this index was built ({stale.describe()}); "
                    "rebuild to include them.")
        return ""

    def status(self) -> str:
        text = status_markdown(self.index, self.stale_note())
        if self.last_build:
            text += f"\n\n{escape_markdown(self.last_build)}"
        return text

    def rebuild(self) -> str:
        """Start a rebuild in the background unless one is running."""
        with self._lock:
            if self._building:
                return self.status()
            self._building = True

        def work() -> None:
            try:
                index = self.index
                report = build_index(self.config, index.embedder, progress=False, lock_wait=30)
                new = Index.load(self.config.index, index.embedder, self.config) \
                    if report.wrote else index
                with self._lock:
                    self._index = new
                self.last_build = "Last rebuild: " + report.summary().splitlines()[0]
            except RagError as exc:
                self.last_build = f"Rebuild failed: {exc}"
            except Exception as exc:  # keep serving whatever went wrong in the build
                log.exception("rebuild failed")
                self.last_build = f"Rebuild failed: {type(exc).__name__}: {exc}"
            finally:
                self._building = False

        threading.Thread(target=work, name="rebuild", daemon=True).start()
        return self.status()


def respond(state: AppState, message: str, history: list[dict], since: str, until: str,
            category: str, mode: str, sources: float, generate: bool = False,
            previous: str | None = None) -> Iterator[tuple[list[dict], str]]:
    """Answer one chat message, yielding (history, sources panel) as the answer forms.

    A follow-up of ``previous`` (the last question answered) is rewritten into a
    standalone question first (rag.query.followup), and the reply starts with it.
    """
    history = list(history or []) + [{"role": "user", "content": escape_markdown(message or "")}]
    turn = rewrite(message or "", previous)
    lead = answering_markdown(turn)
    index = state.index
    try:
        filters = {"mode": mode, "since": (since or "").strip() or None,
                   "until": (until or "").strip() or None,
                   "category": None if category in ("", ALL_CATEGORIES) else category}
        yield history + [{"role": "assistant", "content": lead + "*Searching the releases…*"}], ""
        if generate:
            yield from _respond_generated(index, turn.text, history, int(sources), filters, lead)
            return
        # No timeline view yet (issue 14): don't gather a collection the page won't show.
        answer = index.answer(turn.text, int(sources), collect=False, **filters)
    except RagError as exc:
        yield history + [{"role": "assistant",
                          "content": lead + f"⚠️ {escape_markdown(str(exc))}"}], ""
        return
    panel = sources_html(answer)
    if answer.abstained:
        yield history + [{"role": "assistant", "content": lead + answer_markdown(answer)}], panel
        return
    # Stream the reply quote by quote, as the answer is laid out.
    for shown in range(1, len(answer.quotes) + 1):
        partial = dataclasses.replace(answer, quotes=answer.quotes[:shown])
        content = answer_markdown(partial, show_window=shown == len(answer.quotes))
        yield history + [{"role": "assistant", "content": lead + content}], panel


def _gradio():
    """Gradio, imported with usage telemetry off (it reads the setting when imported)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    return gr


def theme():
    """Gradio's default theme with font faces that hold every glyph.

    Gradio 6.31 serves each theme font from its own static/fonts, but its 600-weight files
    (SourceSansPro-SemiBold, IBMPlexMono-SemiBold) are one unicode-range slice of a few dozen
    glyphs (space, "A", "B", some Cyrillic), declared as if they were whole faces. Semibold
    and bold text took those glyphs from them and every other one from the system fallback,
    so "Biden" and "NATO" mixed Source Sans and DejaVu Sans (issue #12). The 400 and 700
    files are complete; with only those declared, semibold and bold text both get the 700
    face. Nothing is fetched from outside the app.
    """
    gr = _gradio()
    return gr.themes.Default(
        font=(gr.themes.LocalFont("Source Sans Pro", weights=(400, 700)),
              "ui-sans-serif", "system-ui", "sans-serif"),
        font_mono=(gr.themes.LocalFont("IBM Plex Mono", weights=(400, 700)),
                   "ui-monospace", "Consolas", "monospace"))


def _respond_generated(index: Index, message: str, history: list[dict], sources: int,
                       filters: dict, lead: str = "") -> Iterator[tuple[list[dict], str]]:
    """The generated reply: the draft as the model writes it, then the checked answer
    (a mark per sentence) in its place; the Sources panel as for an extracted one."""
    panel, draft = "", ""
    for item in index.stream_answer(message, sources, **filters):
        if isinstance(item, str):
            draft += item
            content = draft_markdown(draft)
        else:  # the extracted answer first, the checked one last
            panel = sources_html(item)
            content = (generated_markdown(item) if item.generated is not None
                       else "*Asking your language model…*")
        yield history + [{"role": "assistant", "content": lead + content}], panel


def build_app(state: AppState):
    """The Gradio Blocks app over a shared AppState."""
    gr = _gradio()
    index = state.index
    with gr.Blocks(title="White House releases — questions and answers") as demo:
        gr.Markdown("# White House releases: ask, and get quoted, cited answers")
        status = gr.Markdown(state.status(), elem_id="status")
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Answers", height=480, elem_id="chat",
                                  feedback_options=None)
                question = gr.Textbox(label="Question", elem_id="question",
                                      placeholder="Which countries received new battle groups?",
                                      max_lines=4)
                with gr.Row():
                    ask = gr.Button("Ask", variant="primary", elem_id="ask")
                    # Shown after a follow-up was rewritten: puts the question it answered
                    # into the box, to correct and ask again.
                    edit = gr.Button("Edit question", visible=False, elem_id="edit-question")
                    clear = gr.Button("Clear", elem_id="clear")
                gr.Examples(EXAMPLES, inputs=[question], label="Examples")
                with gr.Accordion("Filters and settings", open=False, elem_id="settings"):
                    with gr.Row():
                        since = gr.Textbox(label="From (YYYY-MM-DD)", elem_id="since")
                        until = gr.Textbox(label="To (YYYY-MM-DD)", elem_id="until")
                    category = gr.Dropdown([ALL_CATEGORIES, *index.categories],
                                           value=ALL_CATEGORIES, label="Category",
                                           elem_id="category")
                    mode = gr.Radio(["hybrid", "dense", "bm25"], value=state.config.retrieval.mode,
                                    label="Retrieval", elem_id="mode")
                    sources = gr.Slider(1, 10, value=state.config.retrieval.top_k, step=1,
                                        label="Sources", elem_id="sources-count")
                    generate = gr.Checkbox(False, label="Generate with my language model",
                                           visible=state.config.llm.enabled,
                                           elem_id="generate")
                rebuild = gr.Button("Rebuild index", size="sm", elem_id="rebuild")
            with gr.Column(scale=2):
                panel = gr.HTML(elem_id="sources")

        # The last question answered in this session (rewritten, if it was a follow-up).
        previous = gr.State(None)
        inputs = [question, chat, since, until, category, mode, sources, generate, previous]

        def run(message, history, *rest):
            *settings, before = rest
            turn = conversation_turn(message, before)
            for reply, sources_panel in respond(state, message, history, *settings,
                                                previous=before):
                yield reply, sources_panel, turn.previous, gr.update(visible=turn.editable)

        for trigger in (ask.click, question.submit):
            trigger(run, inputs, [chat, panel, previous, edit]).then(lambda: "", None, question)
        edit.click(lambda asked: asked or "", previous, question).then(
            None, None, None, js="() => document.querySelector('#question textarea').focus()")
        clear.click(lambda: ([], "", None, gr.update(visible=False)), None,
                    [chat, panel, previous, edit])
        rebuild.click(state.rebuild, None, status)
        gr.Timer(5).tick(state.status, None, status)
    return demo


def launch_options(config: Config) -> dict[str, Any]:
    """Keyword arguments for ``Blocks.launch``: where to listen, the optional login
    (``server.password``; ``load_config`` applies RAG_PASSWORD and GRADIO_SERVER_NAME/
    PORT), the limits on what a visitor may send, and the look (theme and CSS)."""
    password = config.server.password
    return {
        "server_name": config.server.host,
        "server_port": config.server.port,
        "auth": (config.server.username, password) if password else None,
        "max_file_size": "1mb",  # the app takes no uploads; refuse big bodies early
        "theme": theme(),
        "css": CSS,
        "show_error": False,
    }


def serve(config: Config, embedder: Embedder, host: str | None = None,
          port: int | None = None) -> None:
    """Build the index if needed, then serve the app until interrupted."""
    state = AppState(config, ensure_index(config, embedder))
    options = launch_options(config)
    options["server_name"] = host or options["server_name"]
    options["server_port"] = port or options["server_port"]
    demo = build_app(state)
    # A bounded queue: past 64 waiting questions, new ones are refused at once rather
    # than piling up; two answer at a time (the machine's cores).
    demo.queue(max_size=64, default_concurrency_limit=2)
    demo.launch(**options)
