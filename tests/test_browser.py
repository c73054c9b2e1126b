"""The web app in headless Chromium, driven by Playwright, with the real model."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
SCREENSHOT = REPO / "build" / "screenshots" / "battle-groups.png"
NATO_TITLE = "Statement from President Biden on the Extraordinary NATO Summit"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llm():
    """The scripted chat-completions server the app's ``llm`` section points at."""
    from generate_helpers import scripted_server

    with scripted_server() as script:
        yield script


@pytest.fixture(scope="module")
def app_url(real_index, real_config, llm, tmp_path_factory):
    """The app on a free loopback port, over the session's real index."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make test does)")
    conf = tmp_path_factory.mktemp("app") / "rag.yaml"
    conf.write_text(f"seeds: {real_config.seeds}\nindex: {real_config.index}\n"
                    f"llm:\n  base_url: {llm.url}\n  model: test-model\n  timeout: 20\n")
    port = _free_port()
    log = open(conf.parent / "app.log", "w")
    proc = subprocess.Popen([sys.executable, str(REPO / "app.py"), "--config", str(conf),
                             "--port", str(port)], cwd=conf.parent, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("app did not start:\n" + (conf.parent / "app.log").read_text())
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.goto(app_url)
    page.wait_for_selector("#question textarea")
    yield page
    context.close()


def ask(page, question: str) -> None:
    page.fill("#question textarea", question)
    page.click("#ask")
    # The reply is done when the sources panel is filled and the chat stops updating.
    page.wait_for_selector("#sources .sources", timeout=60000)
    page.wait_for_function(
        "() => !document.querySelector('#chat').innerText.includes('Searching the releases')",
        timeout=60000)


def test_battle_groups(page):
    ask(page, "Which countries received new battle groups?")
    reply = page.inner_text("#chat")
    for country in ("Slovakia", "Romania", "Bulgaria", "Hungary"):
        assert country in reply
    cited = page.locator("#sources .source").first
    assert NATO_TITLE in cited.inner_text()
    href = cited.locator("a").first.get_attribute("href")
    assert href.startswith("https://www.whitehouse.gov/briefing-room/statements-releases/2022/"
                           "03/24/statement-from-president-biden-on-the-extraordinary-nato-"
                           "summit/#:~:text=Today%E2%80%99s%20establishment")
    assert "Slovakia, Romania, Bulgaria, and Hungary" in " ".join(
        cited.locator("mark").all_inner_texts())
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000


def test_source_titles_are_drawn_in_one_font(page, tmp_path):
    """Issue #12: a 600 face holding only a few glyphs drew the "B" of "Biden" in Source
    Sans and the other letters in the system fallback. Chromium reports the fonts that
    actually drew a node (CDP CSS.getPlatformFontsForNode), so a mix shows there."""
    ask(page, "Which countries received new battle groups?")
    title = "#sources .source .source-head a"
    page.evaluate("() => document.fonts.ready")
    family, weight = page.eval_on_selector(
        title, "a => { const s = getComputedStyle(a); return [s.fontFamily, s.fontWeight]; }")
    family = family.split(",")[0].strip(" '\"")
    faces = page.evaluate(
        "([family, weight]) => [...document.fonts].filter(f => "
        "f.family.replace(/[\"']/g, '') === family && f.weight === weight).map(f => f.status)",
        [family, weight])
    assert faces == ["loaded"], f"{family} {weight}: faces {faces}"
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": title})["nodeId"]
    drawn = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    assert len(drawn) == 1 and drawn[0]["isCustomFont"], f"title drawn in {drawn}"
    shot = tmp_path / "sources.png"
    page.locator("#sources").screenshot(path=str(shot))
    assert shot.stat().st_size > 0


def test_unanswerable_question_abstains(page):
    ask(page, "What did the President say about the Mars colony budget?")
    assert "No release in the index answers this question." in page.inner_text("#chat")
    assert page.locator("#sources details.uncited .source").count() > 0


def test_date_filter_is_respected(page):
    page.click("#settings")
    page.fill("#since input, #since textarea", "2022-02-01")
    page.fill("#until input, #until textarea", "2022-02-28")
    ask(page, "What did the United States say about NATO allies?")
    dates = page.eval_on_selector_all("#sources .source", "els => els.map(e => e.dataset.date)")
    assert dates and all("2022-02-01" <= d <= "2022-02-28" for d in dates)
    assert "February 1, 2022 – February 28, 2022" in page.inner_text("#chat")


def test_release_markup_is_shown_as_text(page):
    ask(page, "hostile injection test release markup")
    panel = page.inner_text("#sources")
    assert "<script>window.xssFlag = 1;" in panel
    assert "<img src=x onerror=" in panel and "Hostile <b>markup</b>" in panel
    assert page.evaluate("() => window.xssFlag") is None
    assert page.dialogs == []
    assert page.locator("#sources img, #sources script, #chat script").count() == 0


def test_generated_answer_is_checked_sentence_by_sentence(page, llm, real_index):
    """The draft streams into the reply, then the checked answer replaces it: a quote
    restated is marked ✓, an invented figure is shown struck through as dropped."""
    question = "Which countries received new battle groups?"
    quote = real_index.answer(question).quotes[0]
    page.click("#settings")
    page.check("#generate input")
    llm.steps = []
    llm.stream([quote.text[:30], quote.text[30:], " [Q1]"], pause=0.3)
    ask(page, question)
    page.wait_for_function("() => document.querySelector('#chat').innerText"
                           ".includes('Draft from your language model')", timeout=60000)
    page.wait_for_function("() => document.querySelector('#chat').innerText.includes('✓')",
                           timeout=60000)
    reply = page.inner_text("#chat")
    assert f"✓ {quote.text} [{quote.source}]" in reply and "✗" not in reply
    assert "Generated and checked: 1 generated sentence" in reply
    assert "Slovakia, Romania, Bulgaria, and Hungary" in " ".join(
        page.locator("#sources .source").first.locator("mark").all_inner_texts())

    llm.steps = []
    llm.stream([quote.text, " [Q1] NATO also sent 75,000 troops to Poland [Q1]."])
    page.click("#clear")
    ask(page, question)
    page.wait_for_function("() => document.querySelector('#chat').innerText.includes('✗')",
                           timeout=60000)
    reply = page.inner_text("#chat")
    assert "✓ " in reply and "dropped: number 75,000 is not in" in reply
    struck = page.locator("#chat del, #chat s").all_inner_texts()
    assert any("75,000 troops" in t for t in struck), struck
    assert "1 of 2 generated sentences was dropped" in reply
    assert llm.received[-1].body["stream"] is True
    shot = SCREENSHOT.with_name("generated.png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
def _reply_done(page, text: str) -> None:
    page.wait_for_function(
        "(t) => { const c = document.querySelector('#chat').innerText;"
        " return c.includes(t) && !c.includes('Searching the releases'); }",
        arg=text, timeout=60000)


def test_a_follow_up_is_answered_from_the_previous_question(page):
    """Issue #13: "And in March 2022?" after a question keeps its subject, the reply
    says which question it answered, and "Edit question" hands it back for editing."""
    ask(page, "Which countries received new battle groups?")
    assert page.locator("#edit-question").count() == 0 or \
        not page.locator("#edit-question").is_visible()
    # The second turn from the keyboard: Enter in the question box.
    page.fill("#question textarea", "And in March 2022?")
    page.press("#question textarea", "Enter")
    rewritten = "Which countries received new battle groups in March 2022?"
    _reply_done(page, "March 1, 2022 – March 31, 2022")
    reply = page.inner_text("#chat")
    assert f"Answering: {rewritten}" in reply
    assert reply.count("Slovakia") >= 2          # both turns quote the battle groups
    dates = page.eval_on_selector_all("#sources .source", "els => els.map(e => e.dataset.date)")
    assert dates and all("2022-03-01" <= d <= "2022-03-31" for d in dates)
    cited = page.locator("#sources .source").first
    assert NATO_TITLE in cited.inner_text()
    # The question it answered can be taken back into the box, focused, and edited.
    page.click("#edit-question")
    page.wait_for_function(
        "(t) => document.querySelector('#question textarea').value === t", arg=rewritten)
    assert page.evaluate("() => document.activeElement === "
                         "document.querySelector('#question textarea')")
    # Clear forgets the conversation: the same follow-up is then asked as typed.
    page.click("#clear")
    page.wait_for_function("() => !document.querySelector('#chat').innerText.includes("
                           "'Answering')")
    assert not page.locator("#edit-question").is_visible()


def _quotes_shown(page) -> list[str]:
    return [t.strip().strip("“”") for t in
            page.locator("#timeline tr.timeline-row td.quote").all_inner_texts()]


def test_timeline_view_counts_sorts_and_exports(page, tmp_path):
    """Issue 14: a set question brings its timeline: the count line above one row per
    release (as many as the count says), sortable by title, exported as CSV."""
    import csv
    import re

    ask(page, "Which states received major disaster declarations?")
    page.wait_for_selector("#timeline .count-line", timeout=60000)
    line = page.inner_text("#timeline .count-line")
    shown = re.match(r"(\d+) releases matched; (\d+) name the states asked for", line)
    assert shown, line
    rows = page.locator("#timeline tr.timeline-row")
    assert rows.count() == int(shown.group(2)) >= 5
    assert f"Timeline: {line}" in page.inner_text("#chat")
    dates = page.eval_on_selector_all("#timeline tr.timeline-row",
                                      "els => els.map(e => e.dataset.date)")
    assert dates == sorted(dates)
    assert "Kansas" in page.inner_text("#timeline .timeline-items")
    first = page.locator("#timeline tr.timeline-row").first
    assert first.locator("td.quote strong").count() >= 1  # the item in bold
    assert "#:~:text=" in first.locator("td.title a").get_attribute("href")
    by_date = _quotes_shown(page)

    page.click("#timeline-sort label:has-text('Title')")
    page.wait_for_function(
        "(d) => { const r = [...document.querySelectorAll('#timeline tr.timeline-row')];"
        " return r.length && r.map(e => e.dataset.date).join() !== d; }",
        arg=",".join(dates), timeout=30000)
    titles = page.locator("#timeline tr.timeline-row td.title a").all_inner_texts()
    assert titles == sorted(titles, key=str.casefold) and len(titles) == len(dates)
    assert sorted(_quotes_shown(page)) == sorted(by_date)

    with page.expect_download() as download:
        page.click("#timeline-csv")
    assert download.value.suggested_filename == "timeline.csv"
    saved = tmp_path / "timeline.csv"
    download.value.save_as(saved)
    with open(saved, newline="", encoding="utf-8") as f:
        exported = list(csv.DictReader(f))
    assert [r["date"] for r in exported] == dates  # oldest first, as the timeline
    assert [" ".join(r["text"].split()) for r in exported] == \
        [" ".join(t.split()) for t in by_date]
    assert all(r["link"].startswith("https://www.whitehouse.gov/") and "#:~:text=" in r["link"]
               for r in exported)
    assert any("Kansas" in r["items"].split("; ") for r in exported)

    # Clear empties the timeline with the conversation, downloads included.
    page.click("#clear")
    page.wait_for_function("() => !document.querySelector('#timeline tr.timeline-row')",
                           timeout=30000)
    assert not page.locator("#timeline-csv").is_visible()
    assert not page.locator("#timeline-md").is_visible()


def test_diff_view_compares_two_windows_and_exports(page, tmp_path):
    """The What-changed tab: a subject and two windows give kept/reworded/dropped/new
    rows, as many as the counts say, each side dated and linked; Markdown export."""
    import re

    page.click("#diff-tab-button")
    page.fill("#diff-subject textarea, #diff-subject input", "sanctions on Russia")
    page.fill("#diff-a textarea, #diff-a input", "February 2022")
    page.fill("#diff-b textarea, #diff-b input", "March 2022")
    page.click("#compare")
    page.wait_for_selector("#diff .diff-counts", timeout=60000)
    counts = dict((s, int(n)) for n, s in
                  re.findall(r"(\d+) (kept|reworded|dropped|new)",
                             page.inner_text("#diff .diff-counts")))
    statuses = page.eval_on_selector_all("#diff tr.diff-row",
                                         "els => els.map(e => e.dataset.status)")
    assert statuses and {s: statuses.count(s) for s in counts} == counts
    a_dates = page.eval_on_selector_all("#diff tr.diff-row td.side:nth-child(2)[data-date]",
                                        "els => els.map(e => e.dataset.date)")
    b_dates = page.eval_on_selector_all("#diff tr.diff-row td.side:nth-child(3)[data-date]",
                                        "els => els.map(e => e.dataset.date)")
    assert a_dates and all(d.startswith("2022-02") for d in a_dates)
    assert b_dates and all(d.startswith("2022-03") for d in b_dates)
    assert page.locator("#diff tr.diff-row td.side a").count() == len(a_dates) + len(b_dates)

    with page.expect_download() as download:
        page.click("#diff-md")
    saved = tmp_path / "diff.md"
    download.value.save_as(saved)
    text = saved.read_text(encoding="utf-8")
    assert text.startswith("# What changed: sanctions on Russia\n")
    assert sum(line.startswith(f"| {s} |") for line in text.splitlines()
               for s in counts) == len(statuses)

    # The same from the chat: the question is answered by a diff, and the tab shows it.
    page.click("#timeline-tab-button")
    page.fill("#question textarea", "How did the description of sanctions on Russia change "
                                    "between February and March 2022?")
    page.click("#ask")
    page.wait_for_function("() => document.querySelector('#chat').innerText"
                           ".includes('What changed: sanctions on Russia')", timeout=60000)
    assert page.get_attribute("#diff-tab-button", "aria-selected") == "true"
    assert page.locator("#diff tr.diff-row").count() == len(statuses)
