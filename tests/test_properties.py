"""Property-based tests (Hypothesis): the parsers and the chunker on arbitrary input.

Each property runs a bounded number of examples with a per-example deadline, so the
whole file stays within about 20 seconds; a deadline overrun is a failure (it is how
a quadratic or non-terminating case shows up), not a timing measurement.
"""

import datetime as dt

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rag.ingest.chunking import chunk_release
from rag.config import ChunkConfig
from rag.query.dates import find_date_window, strip_date_expression
from rag.errors import ReleaseError
from rag.ingest.releases import Release, parse_release
from rag.ingest.markdown import markdown_to_text
from rag.ingest.sentences import paragraph_spans, sentence_spans
from conftest import FakeEmbedder

count = FakeEmbedder().count_tokens

# Deadlines are generous against a loaded shared machine; a quadratic blow-up on these
# sizes takes far longer.
FAST = settings(max_examples=400, deadline=1000,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Text that looks like the corpus, and text that does not: any character (no surrogates,
# which a decoded file never holds), spaces and newlines of every kind, long words.
ANY_TEXT = st.text(max_size=400)
PIECES = st.sampled_from([
    " ", "  ", "\n", "\n\n", "\n \n", "\r\n", "\t", "\u00a0", "\u2028", "\u3000", "\x0b",
    ".", ". ", "! ", "? ", "...", "Mr. ", "U.S. ", "e.g. ", "“", "”", "’", "\"", "(", ")",
    "[", "]", "*", "**", "_", "__", "#", "# ", "## ", "> ", "- ", "1. ", "\\", "\\###",
    "<", ">", "<b>", "</b>", "<table>", "<tr>", "<td>", "</td>", "</tr>", "</table>",
    "<script>", "[a](b)", "![x](y)", "<http://x.y>", "&amp;", "A", "The", "word",
    "President", "Ukraine", "2022", "$1", "%", "42", "é", "ß", "İ", "ﬁ", "日本語",
    "🇺🇦",
    "👍🏽", "مرحبا", "שלום", "\u200b", "\u202e", "\ufeff", "x" * 300, "ab" * 120,
])
MARKDOWNISH = st.lists(st.one_of(PIECES, st.text(max_size=12)), max_size=60).map("".join)


# --- rag.ingest.releases.parse_release ---------------------------------------------------

YAML_VALUES = st.sampled_from([
    "", "x", "'x'", '"x"', "2022-03-01", "'2022-03-01'", "2022-02-30", "'2022-02-30'",
    "2022-03-01 10:00:00", "2022-03-01T25:61:00", "2022-03-01T10:00:00+99:00", "0000-01-01",
    "9999-12-31", "2022", "-1", "1e400", ".nan", "true", "null", "~", "[]", "{}", "[a, b]",
    "{a: 1}", "[unclosed", "{unclosed", "'unclosed", "!!int abc", "!!float abc",
    "!!timestamp abc", "!!binary '@@'", "!!python/object:os.system x", "!!set {a}",
    "!!omap [1]", "&a x", "*a", "*undefined", "|\n  block", ">\n  folded", "- item",
    "[" * 50 + "]" * 50, "\t", "\\", "%", "@", "`", "---", "...", "日本", "🇺🇦",
])
KEYS = st.sampled_from(["title", "date", "category", "tags", "permalink", "source_url",
                        "published_time", "modified_time", "unknown", "<<", "? [a]", "1"])
FRONT_MATTER = st.lists(st.tuples(KEYS, YAML_VALUES).map(lambda kv: f"{kv[0]}: {kv[1]}"),
                        max_size=8).map("\n".join)


def _check_parse(text: str) -> None:
    try:
        release = parse_release(text, "x/r.md")
    except ReleaseError as exc:
        message = str(exc)
        assert message.startswith("x/r.md: ") and message.strip()
        return
    # Whatever parsed is a usable release.
    assert isinstance(release, Release) and isinstance(release.date, dt.date)
    assert release.title and release.title == release.title.strip()
    assert release.body and release.body == release.body.strip()
    assert len(release.content_hash) == 32


@FAST
@given(ANY_TEXT)
def test_parse_release_any_text_parses_or_raises_release_error(text):
    _check_parse(text)


@FAST
@given(FRONT_MATTER, MARKDOWNISH, st.sampled_from(["---\n", "---\r\n", "\ufeff---\n", "--- \n"]),
       st.sampled_from(["\n---\n", "\n---", "\n--- \n", "\n", "\n...\n"]))
@example("title: T\ndate: 2022-02-30", "Body.", "---\n", "\n---\n")  # impossible date
@example("title: T\ndate: !!int abc", "Body.", "---\n", "\n---\n")
@example("title: " + "[" * 700 + "]" * 700 + "\ndate: 2022-03-01", "Body.", "---\n", "\n---\n")
def test_parse_release_front_matter_parses_or_raises_release_error(header, body, opening,
                                                                   closing):
    _check_parse(f"{opening}{header}{closing}{body}")


# --- rag.ingest.markdown.markdown_to_text ------------------------------------------------

@FAST
@given(st.one_of(ANY_TEXT, MARKDOWNISH))
@example("[" * 20000)                    # each "[" once rescanned the rest: minutes
@example("![" * 10000)
@example("<table " * 5000)
@example("<table><tr " + "<tr " * 10000 + "</table>")
def test_markdown_to_text_never_raises_and_gives_clean_paragraphs(markdown):
    text = markdown_to_text(markdown)
    assert isinstance(text, str) and text == text.strip()
    for paragraph in text.split("\n\n") if text else []:
        assert paragraph and "\n" not in paragraph and paragraph == paragraph.strip()
    # Sentence spans of the result stay inside their paragraph and in order.
    for start, end in paragraph_spans(text):
        last = start
        for s, e in sentence_spans(text, start, end):
            assert last <= s < e <= end
            last = e


# --- rag.ingest.chunking.chunk_release ---------------------------------------------------

LONG_WORDS = st.text(st.characters(exclude_categories=["Cs", "Z", "Cc"]),
                     min_size=30, max_size=300)
BODIES = st.one_of(
    ANY_TEXT,                                                      # anything at all
    MARKDOWNISH,
    MARKDOWNISH.map(markdown_to_text),                             # what releases hold
    LONG_WORDS,                                                    # no spaces at all
    st.lists(st.one_of(LONG_WORDS, st.sampled_from([" ", "\n", "\n\n", ". "])),
             max_size=12).map("".join),
    st.lists(st.sampled_from(["\n", "\n\n", " ", "A.", "b", "Mr.", "?", "🇺🇦"]),
             max_size=300).map("".join),                           # many newlines
)


def _release(body: str) -> Release:
    return Release("x.md", "Title", dt.date(2022, 3, 24), "statements-releases", "https://x/",
                   "", "", body)


@settings(max_examples=500, deadline=1000,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(BODIES, st.sampled_from([32, 40, 64, 160]), st.integers(0, 3))
@example("x" * 5000, 32, 1)                                        # one huge word
@example("A. " * 400 + "\n\n" + "b" * 700 + " c", 32, 3)
@example(". " * 300 + "." * 300, 32, 3)
@example("." * 20000 + " a", 32, 1)      # a run of dots once took quadratic time
def test_chunk_release_slices_cover_and_fit(body, max_tokens, overlap):
    config = ChunkConfig(max_tokens=max_tokens, overlap_sentences=overlap)
    passages = chunk_release(_release(body), config, count)
    assert [p.ordinal for p in passages] == list(range(len(passages)))
    covered = bytearray(len(body))
    for p in passages:
        assert 0 <= p.start < p.end <= len(body)
        assert body[p.start:p.end] == p.text                       # an exact slice
        assert p.tokens <= max_tokens and count([p.text])[0] <= max_tokens
        covered[p.start:p.end] = b"\x01" * (p.end - p.start)
    missing = [i for i, ch in enumerate(body) if not ch.isspace() and not covered[i]]
    assert not missing, f"characters not in any passage at {missing[:5]}"
    # Passages advance through the body: no passage starts before the previous one.
    assert all(a.start < b.start for a, b in zip(passages, passages[1:]))


# --- rag.query.dates.find_date_window ----------------------------------------------------

DATE_WORDS = st.sampled_from([
    "in", "on", "from", "since", "after", "before", "until", "till", "through", "between",
    "during", "over", "within", "of", "and", "to", "-", "–", "—", "the", "this", "last",
    "past", "early", "mid", "late", "first", "second", "third", "fourth", "half",
    "quarter", "Q1", "H2", "spring", "summer", "fall", "winter", "March", "march", "Feb.",
    "Sept", "May", "may", "December", "1", "1st", "15", "29", "30", "31", "32", "0", "00",
    "2021", "2022", "2024", "1990", "2099", "1989", "year", "years", "month", "months",
    "week", "day", "days", "three", "twelve", "999", "today", "yesterday", "onward",
    "forward", "2022-02-30", "2022-13-01", "2022-03-01", "02/30/2022", "3/1/2022", "$2022",
    "2022%", "2022,000", "٢٠٢٢", ",", "?", "(", ")", "\n",
])
QUESTIONS = st.one_of(ANY_TEXT, st.lists(DATE_WORDS, max_size=14).map(" ".join),
                      st.lists(DATE_WORDS, max_size=14).map("".join))


@FAST
@given(QUESTIONS, st.dates(dt.date(1995, 1, 1), dt.date(2035, 12, 31)))
@example("between February 29 and March 2023", dt.date(2022, 3, 31))
@example("last 999 years", dt.date(2022, 3, 31))
@example("AFTER SPRING ONWARD", dt.date(2022, 3, 31))  # once a TypeError
def test_find_date_window_never_raises(question, today):
    window = find_date_window(question, today)
    if window is None:
        return
    assert window.since is None or window.until is None or window.since <= window.until
    assert window.text and window.text in question
    rest = strip_date_expression(question, window)
    assert isinstance(rest, str) and rest.strip()
