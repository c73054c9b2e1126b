"""Markdown bodies to plain text: HTML comments (rag.ingest.markdown)."""

from rag.ingest.markdown import markdown_to_text


def test_html_comments_never_reach_the_text():
    # The scraper's Markdown separates lists with `<!-- -->` on a line of its own.
    body = "-   First item.\n\n<!-- -->\n\n-   Second item <!-- note\nover lines --> ends."
    assert markdown_to_text(body) == "First item.\n\nSecond item ends."


def test_an_unclosed_comment_stays_as_text():
    assert markdown_to_text("Before <!-- never closed") == "Before <!-- never closed"


def test_many_comments_are_removed_in_linear_time():
    body = "<!-- x -->" * 100_000 + "Kept."
    assert markdown_to_text(body) == "Kept."
