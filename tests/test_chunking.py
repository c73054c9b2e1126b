import datetime as dt

import pytest

from rag.ingest.chunking import chunk_release, context_header, embedding_text
from rag.config import ChunkConfig
from rag.ingest.releases import Release, load_releases
from conftest import SEEDS, FakeEmbedder

count = FakeEmbedder().count_tokens


def release(body: str, title: str = "Title") -> Release:
    return Release("x.md", title, dt.date(2022, 3, 24), "statements-releases", "https://x/",
                   "", "", body)


def test_every_seed_passage_is_an_exact_slice_within_budget():
    config = ChunkConfig(max_tokens=64)
    for r in load_releases(SEEDS).releases:
        passages = chunk_release(r, config, count)
        assert passages, r.id
        assert [p.ordinal for p in passages] == list(range(len(passages)))
        for p in passages:
            assert r.body[p.start:p.end] == p.text
            assert p.tokens == count([p.text])[0] <= config.max_tokens
        # Nothing is lost: every word of the body is in some passage.
        covered = set()
        for p in passages:
            covered.update(range(p.start, p.end))
        assert all(i in covered for i, ch in enumerate(r.body) if not ch.isspace()), r.id


def test_short_release_is_one_passage():
    r = release("One sentence. Two sentences.\n\nA second paragraph.")
    [p] = chunk_release(r, ChunkConfig(max_tokens=64), count)
    assert p.text == r.body


def test_prefers_paragraph_breaks_and_overlaps_inside_paragraphs():
    para1 = " ".join(f"Alpha sentence number {i}." for i in range(6))  # 30 tokens
    para2 = " ".join(f"Beta sentence number {i}." for i in range(12))  # 60 tokens
    r = release(f"{para1}\n\n{para2}")
    passages = chunk_release(r, ChunkConfig(max_tokens=40, overlap_sentences=1), count)
    assert passages[0].text == para1  # ends at the paragraph break, not mid-paragraph 2
    assert passages[1].text.startswith("Beta sentence number 0.")
    # A break inside a paragraph repeats the last sentence of the previous passage.
    last_of_1 = passages[1].text.rsplit(". ", 1)[-1]
    assert passages[2].text.startswith(last_of_1.rstrip("."))


def test_no_overlap_when_disabled():
    r = release(" ".join(f"Sentence {i} is here." for i in range(30)))
    passages = chunk_release(r, ChunkConfig(max_tokens=32, overlap_sentences=0), count)
    assert all(a.end < b.start for a, b in zip(passages, passages[1:]))


def test_long_sentence_is_cut_at_words():
    r = release("word " * 300 + "end.")
    passages = chunk_release(r, ChunkConfig(max_tokens=50), count)
    assert len(passages) >= 6
    assert all(p.tokens <= 50 and r.body[p.start:p.end] == p.text for p in passages)
    assert not any(p.text.startswith(" ") or p.text.endswith(" ") for p in passages)


def test_giant_word_is_cut_by_characters():
    r = release("x" * 1000)
    passages = chunk_release(r, ChunkConfig(max_tokens=40), count)
    assert "".join(p.text for p in passages) == r.body


def test_header_has_title_and_date_and_is_capped():
    r = release("Body.", title="Statement from President Biden on the Extraordinary NATO Summit")
    config = ChunkConfig(header_tokens=48)
    assert context_header(r, config, count) == (
        "Statement from President Biden on the Extraordinary NATO Summit (March 24, 2022)")
    short = context_header(r, ChunkConfig(header_tokens=12), count)
    assert short == "Statement from President Biden on the (March 24, 2022)"
    assert count([short])[0] <= 12
    assert context_header(r, ChunkConfig(header=False), count) == ""
    [p] = chunk_release(r, config, count)
    assert embedding_text("H", p) == "H\nBody." and embedding_text("", p) == "Body."


@pytest.mark.parametrize("kwargs, message", [
    ({"max_tokens": 8}, "chunking.max_tokens = 8 must be between 32 and 512"),
    ({"overlap_sentences": 5}, "chunking.overlap_sentences = 5 must be between 0 and 3"),
    ({"header_tokens": 500}, "chunking.header_tokens = 500 must be between 8 and 128"),
])
def test_chunk_settings_are_validated(kwargs, message):
    from rag.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        ChunkConfig(**kwargs).validate()


def test_budget_must_fit_the_model():
    from rag.errors import ConfigError

    with pytest.raises(ConfigError, match=r"plus 2 special tokens is 306, more than the model "
                                          r"reads \(256\)"):
        ChunkConfig(max_tokens=256, header_tokens=48).fits(256)
    ChunkConfig(max_tokens=160, header_tokens=48).fits(256)
