"""The web app: a Gradio chat that answers with cited, highlighted passages."""

from __future__ import annotations

import html
import logging
import os
import sys
import threading
from typing import Any

from ..config import Config
from ..errors import RagError
from ..index import store
from ..index.build import build_index
from ..index.staleness import SeenFiles, check_staleness
from ..model.embedder import Embedder
from ..query.index import Index
from .conversation import conversation_turn
from .diff_view import CSS as DIFF_CSS
from .render import CSS, escape_markdown, status_markdown
from .reply import ALL_CATEGORIES, COLLECT_CHOICES, respond, respond_views  # noqa: F401 (respond: API)
from .timeline import CSS as TIMELINE_CSS, SORTS, timeline_html
from .views import diff_panel, timeline_view
from .workers import PooledHolder, WorkerPool

log = logging.getLogger(__name__)

EXAMPLES = [
    "Which countries received new battle groups?",
    "How many barrels of oil per day will be released from the Strategic Petroleum Reserve?",
    "What sanctions were announced on Russian banks in late February 2022?",
    "Who was nominated to the Federal Reserve Board?",
    "In which months of 2023 did the White House announce new sanctions on Russia?",
    "How did the description of NATO battle groups change between 2022 and 2024?",
]


def build_reason(config: Config, seen: SeenFiles | None = None) -> str | None:
    """Why the index must be built or updated before (or while) the app serves it:
    missing, mismatched, stale, or a lexical generation whose embedding is unfinished;
    None when it is ready. ``seen`` keeps what the staleness check parsed, for the
    status line's later checks (see ``check_staleness``)."""
    try:
        manifest = store.read_manifest(store.resolve(config.index))
        stale = check_staleness(manifest, config.seeds, seen)
        if stale.stale:
            return f"index is stale ({stale.describe()} release files)"
        if manifest.lexical_only:
            return "the index is lexical only (its embedding was interrupted)"
        return None
    except RagError as exc:
        return str(exc)


class AppState:
    """The index the app answers from, shared by all sessions, and its rebuilds.

    A rebuild runs in a thread; questions keep being answered from the old index
    until the new one is loaded and swapped in under the lock. A build that publishes
    a lexical generation first (``rag.index.staged``) swaps that in as soon as it is
    current, then the hybrid one when its embedding is done.
    """

    def __init__(self, config: Config, index: Index, seen: SeenFiles | None = None):
        self.config = config
        self._index = index
        self._lock = threading.Lock()
        self._building = False
        self.last_build = ""
        # The status line checks the seeds folder every few seconds per open page; what
        # it parsed once is kept, so later checks only stat the files (a full corpus
        # whose files were all touched took ~78 s to parse, every time).
        self._seen: SeenFiles = {} if seen is None else seen

    @classmethod
    def start(cls, config: Config, embedder: Embedder, seen: SeenFiles | None = None
              ) -> AppState:
        """The state of an app about to serve: the index loaded, or built first when
        :func:`build_reason` says so. A build that publishes a lexical generation
        returns as soon as it is current and goes on embedding in the background.
        Progress goes to the terminal (stderr).

        Raises:
            RagError: the build failed before anything could be served.
        """
        seen = {} if seen is None else seen
        why = build_reason(config, seen)
        if why is None:
            return cls(config, Index.load(config.index, embedder, config), seen)
        print(f"{why}: building the index from {config.seeds} ...", file=sys.stderr, flush=True)
        state = cls(config, None, seen)  # type: ignore[arg-type]  # set before returned
        ready = threading.Event()
        state._building = True
        threading.Thread(target=state._build, args=(embedder, ready, True), name="build",
                         daemon=True).start()
        ready.wait()
        if state._index is None:
            raise RagError(state.last_build or "the index could not be built")
        return state

    @property
    def index(self) -> Index:
        with self._lock:
            return self._index

    def stale_note(self) -> str:
        if self._building:
            if self.index.lexical_only:
                return ""  # the status line says how far the embedding is
            return "Rebuilding the index; answers come from the current one until it is done."
        try:
            stale = check_staleness(self.index.manifest, self.config.seeds, self._seen)
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
        threading.Thread(target=self._build, args=(self.index.embedder,), name="rebuild",
                         daemon=True).start()
        return self.status()

    def _swap(self, index: Index) -> None:
        with self._lock:
            self._index = index

    def _build(self, embedder: Embedder, ready: threading.Event | None = None,
               progress: bool = False) -> None:
        """Build (``_building`` is set by the caller), swapping in each generation the
        build publishes; ``ready`` is set once there is an index to serve, or the build
        failed."""
        def published(report) -> None:
            self._swap(Index.load(report.lexical_path, embedder, self.config))
            if ready is not None:
                ready.set()

        try:
            report = build_index(self.config, embedder, progress=progress, lock_wait=30,
                                 on_lexical=published)
            if report.wrote or self._index is None:
                self._swap(Index.load(self.config.index, embedder, self.config))
            if progress:
                print(report.summary(), file=sys.stderr, flush=True)
            self.last_build = "Last rebuild: " + report.summary().splitlines()[0]
        except RagError as exc:
            self.last_build = f"Rebuild failed: {exc}"
        except Exception as exc:  # keep serving whatever went wrong in the build
            log.exception("rebuild failed")
            self.last_build = f"Rebuild failed: {type(exc).__name__}: {exc}"
        finally:
            self._building = False
            if ready is not None:
                ready.set()


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


def build_app(state: AppState, pool: WorkerPool | None = None):
    """The Gradio Blocks app over a shared AppState; with a ``pool``, the chat's answers
    are computed in its worker processes (``rag.web.workers``)."""
    gr = _gradio()
    index = state.index
    answering = state if pool is None else PooledHolder(state, pool)
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
                    collect = gr.Radio(list(COLLECT_CHOICES), value="auto",
                                       label="Collect a timeline (auto: for set and history "
                                             "questions)", elem_id="collect")
                rebuild = gr.Button("Rebuild index", size="sm", elem_id="rebuild")
            with gr.Column(scale=2):
                panel = gr.HTML(elem_id="sources")
        with gr.Tabs(elem_id="views") as views:
            with gr.Tab("Timeline", id="timeline", elem_id="timeline-tab"):
                with gr.Row():
                    sort = gr.Radio(SORTS, value="date", label="Sort by",
                                    elem_id="timeline-sort", scale=3)
                    timeline_csv = gr.DownloadButton("Download CSV", visible=False,
                                                     elem_id="timeline-csv", scale=1)
                    timeline_md = gr.DownloadButton("Download Markdown", visible=False,
                                                    elem_id="timeline-md", scale=1)
                timeline = gr.HTML(timeline_view(None).html, elem_id="timeline")
            with gr.Tab("What changed", id="diff", elem_id="diff-tab"):
                with gr.Row():
                    subject = gr.Textbox(label="Subject (or a whole question)", scale=3,
                                         placeholder="NATO battle groups", elem_id="diff-subject")
                    window_a = gr.Textbox(label="Window A", placeholder="2022", elem_id="diff-a")
                    window_b = gr.Textbox(label="Window B", placeholder="2023", elem_id="diff-b")
                with gr.Row():
                    compare = gr.Button("Compare", variant="primary", elem_id="compare")
                    diff_csv = gr.DownloadButton("Download CSV", visible=False,
                                                 elem_id="diff-csv")
                    diff_md = gr.DownloadButton("Download Markdown", visible=False,
                                                elem_id="diff-md")
                diff_out = gr.HTML(diff_panel(None).html, elem_id="diff")

        # The last question answered in this session (rewritten, if it was a follow-up).
        previous = gr.State(None)
        # The collection the Timeline tab shows, kept to sort it again.
        collection = gr.State(None)
        inputs = [question, chat, since, until, category, mode, sources, generate, previous,
                  collect, sort]
        timeline_outputs = [timeline, collection, timeline_csv, timeline_md]
        diff_outputs = [diff_out, diff_csv, diff_md]

        def shown_timeline(found, order):
            view = timeline_view(found, order)
            return (view.html, found, gr.update(value=view.csv, visible=True),
                    gr.update(value=view.markdown, visible=True))

        def shown_diff(found):
            view = diff_panel(found)
            return (view.html, gr.update(value=view.csv, visible=True),
                    gr.update(value=view.markdown, visible=True))

        def run(message, history, *rest):
            *settings, before, collecting, order = rest
            turn = conversation_turn(message, before)
            for step in respond_views(answering, message, history, *settings, previous=before,
                                      collect=collecting):
                # The tabs change only when a reply brings a timeline or a diff.
                keep_timeline = (gr.skip(),) * len(timeline_outputs)
                keep_diff = (gr.skip(),) * len(diff_outputs)
                tab = gr.skip()
                if step.collection is not None:
                    keep_timeline, tab = shown_timeline(step.collection, order), \
                        gr.Tabs(selected="timeline")
                if step.diff is not None:
                    keep_diff, tab = shown_diff(step.diff), gr.Tabs(selected="diff")
                yield (step.history, step.panel, turn.previous,
                       gr.update(visible=turn.editable), *keep_timeline, *keep_diff, tab)

        def run_compare(what, a, b, retrieval, where):
            try:
                found = state.index.diff(
                    what, (a or "").strip() or None, (b or "").strip() or None,
                    mode=retrieval, category=None if where in ("", ALL_CATEGORIES) else where)
            except RagError as exc:
                return (f'<div class="diff error">⚠️ {html.escape(str(exc))}</div>',
                        gr.update(visible=False), gr.update(visible=False))
            return shown_diff(found)

        outputs = [chat, panel, previous, edit, *timeline_outputs, *diff_outputs, views]
        # Only answers (and comparisons) take the queue's slots, one per core: the small
        # steps around them skip the queue, and the status line, whose staleness check
        # reads the seeds folder, has a slot of its own, so none waits behind answers
        # or holds one up.
        for trigger in (ask.click, question.submit):
            trigger(run, inputs, outputs).then(lambda: "", None, question, queue=False)
        edit.click(lambda asked: asked or "", previous, question, queue=False).then(
            None, None, None, js="() => document.querySelector('#question textarea').focus()")
        def cleared():
            hidden = gr.update(value=None, visible=False)
            return ([], "", None, gr.update(visible=False),
                    timeline_view(None).html, None, hidden, hidden,
                    diff_panel(None).html, hidden, hidden)

        # Clear empties the tabs too: a timeline left from the last conversation would
        # read as an answer to the next one.
        clear.click(cleared, None, [chat, panel, previous, edit, *timeline_outputs,
                                    *diff_outputs], queue=False)
        sort.change(timeline_html, [collection, sort], timeline)
        for trigger in (compare.click, subject.submit, window_a.submit, window_b.submit):
            trigger(run_compare, [subject, window_a, window_b, mode, category], diff_outputs)
        rebuild.click(state.rebuild, None, status, concurrency_id="status",
                      concurrency_limit=1)
        gr.Timer(5).tick(state.status, None, status, concurrency_id="status",
                         concurrency_limit=1)
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
        "css": CSS + TIMELINE_CSS + DIFF_CSS,
        "show_error": False,
    }
