"""The real bundled model on the real seeds: what users run."""

import dataclasses

import numpy as np
import pytest

from rag.ingest.chunking import chunk_release, context_header, embedding_text
from rag.config import config_from_dict
from rag.ingest.releases import load_releases
from conftest import SEEDS

pytestmark = pytest.mark.model
NATO_ID = ("statements-releases/2022-03/"
           "2022-03-24-statement-from-president-biden-on-the-extraordinary-nato-summit.md")


@pytest.fixture(scope="session")
def model(real_model):
    return real_model


@pytest.fixture(scope="session")
def seeds_index(real_index):
    return real_index


def test_bundled_model_loads_offline(model):
    assert model.info.id == "sentence-transformers/all-MiniLM-L6-v2"
    assert (model.info.dim, model.info.max_tokens) == (384, 256)
    vectors = model.embed(["NATO battle groups", "free COVID tests"])
    assert vectors.dtype == np.float32 and vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def _seed_texts(model, count: int) -> list[str]:
    config = config_from_dict({}, SEEDS).chunking
    texts = []
    for release in load_releases(SEEDS).releases[::25]:
        header = context_header(release, config, model.count_tokens)
        texts += [embedding_text(header, p) for p in chunk_release(release, config,
                                                                   model.count_tokens)[:2]]
    return texts[:count]


def test_int8_vectors_agree_with_float32(model):
    from rag.config import ModelConfig
    from rag.model.transformer import load_embedder

    assert (model.info.precision, model.info.variant) == ("int8", "onnx-r4")
    texts = _seed_texts(model, 24)
    exact = load_embedder(ModelConfig(precision="float32")).embed(texts)
    cosine = np.sum(model.embed(texts) * exact, axis=1)
    # Plain dynamic quantization gave 0.985 / 0.993 here; quantizing [CLS] and [SEP]
    # apart from the other rows, and smoothing, give about 0.998 / 0.9993.
    assert cosine.min() > 0.996 and cosine.mean() > 0.9985


def test_int8_embeds_the_shortest_inputs(model):
    # "" is [CLS] [SEP] alone: no row is left for the quantized products.
    vectors = model.embed(["", "a", "NATO"])
    assert np.isfinite(vectors).all()
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_text_gets_the_same_vector_whatever_else_is_encoded(model):
    texts = _seed_texts(model, 6)
    alone = np.stack([model.embed([t])[0] for t in texts])
    assert np.array_equal(model.embed(texts), alone)


def test_sentence_vectors_are_pooled_from_the_passage_pass(model):
    text = "NATO battle groups. They go to Slovakia, Romania, Bulgaria and Hungary."
    spans = [(0, 19), (20, len(text)), (len(text) + 5, len(text) + 9)]
    vectors, pooled = model.encode([text], [spans])
    assert pooled[0].shape == (3, 384)
    assert np.allclose(np.linalg.norm(pooled[0][:2], axis=1), 1.0, atol=1e-5)
    assert not pooled[0][2].any()  # a span with no tokens in it
    # In context, yet still closest to its own words.
    alone = model.embed([text[:19], text[20:]])
    similarity = pooled[0][:2] @ alone.T
    assert similarity[0, 0] > similarity[0, 1] and similarity[1, 1] > similarity[1, 0]


def test_no_seed_passage_is_truncated_by_the_model(model):
    config = config_from_dict({}, SEEDS).chunking
    longest = 0
    for release in load_releases(SEEDS).releases:
        header = context_header(release, config, model.count_tokens)
        for p in chunk_release(release, config, model.count_tokens):
            assert release.body[p.start:p.end] == p.text
            assert model.count_tokens([p.text])[0] == p.tokens <= config.max_tokens
            longest = max(longest, model.count_tokens([embedding_text(header, p)])[0] + 2)
    assert longest <= model.info.max_tokens


def test_battle_groups_top_hit(seeds_index):
    hits = seeds_index.retrieve("Which countries received new battle groups?", top_k=5)
    assert hits[0].release_id == NATO_ID
    assert "Slovakia, Romania, Bulgaria, and Hungary" in hits[0].text
    assert hits[0].url.endswith("/2022/03/24/statement-from-president-biden-on-the-"
                                "extraordinary-nato-summit/")


def test_index_covers_every_seed(seeds_index):
    assert seeds_index.release_count == 350 + 1  # the seeds and the hostile test release
    assert len(seeds_index) == seeds_index.manifest.counts.passages > 350


def test_battle_groups_answer(seeds_index):
    answer = seeds_index.answer("Which countries received new battle groups?")
    assert not answer.abstained
    first = answer.quotes[0]
    assert "Slovakia, Romania, Bulgaria, and Hungary" in first.text
    assert first.release_id == NATO_ID
    assert answer.sources[first.source - 1].link.split("#:~:text=")[0] == \
        answer.sources[first.source - 1].hit.url
    assert "Hungary is a strong signal" in answer.text and f"[{first.source}]" in answer.text


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_battle_groups_in_every_mode(seeds_index, mode):
    assert seeds_index.retrieve("Which countries received new battle groups?", 5,
                                mode=mode)[0].release_id == NATO_ID


def test_made_up_topic_abstains(seeds_index):
    answer = seeds_index.answer("What did the President say about the Mars colony budget?")
    assert answer.abstained and answer.sources


@pytest.mark.parametrize("follow_up, window", [
    ("And in March 2022?", ("2022-03-01", "2022-03-31")),
    ("What about late March 2022?", ("2022-03-21", "2022-03-31")),
])
def test_a_follow_up_keeps_the_subject_of_the_previous_question(seeds_index, follow_up, window):
    """Issue #13: a follow-up is answered about the previous question's subject."""
    from rag.query.followup import rewrite

    turn = rewrite(follow_up, "Which countries received new battle groups?")
    assert turn.rewritten
    answer = seeds_index.answer(turn.text)
    assert not answer.abstained
    assert "Slovakia, Romania, Bulgaria, and Hungary" in answer.quotes[0].text
    assert answer.quotes[0].release_id == NATO_ID
    w = answer.date_window
    assert (w.since.isoformat(), w.until.isoformat()) == window
    assert all(window[0] <= s.hit.date.isoformat() <= window[1] for s in answer.sources)
    # As typed, without the previous question, it is about nothing in particular.
    alone = seeds_index.answer(follow_up)
    assert alone.abstained or NATO_ID not in [q.release_id for q in alone.quotes]


def test_the_countries_are_the_answer_spans(seeds_index):
    answer = seeds_index.answer("Which countries received new battle groups?")
    first = answer.quotes[0]
    marked = {first.text[s - first.start:e - first.start] for s, e in first.spans}
    assert {"Slovakia", "Romania", "Bulgaria", "Hungary"} <= marked
    body = seeds_index.release(first.release_id).body
    assert all(body[s:e] in marked for s, e in first.spans)


def test_a_surname_is_completed_by_the_full_name(seeds_index):
    """The sentence about the former senator names him "Jones" only; the line before it,
    "Doug Jones, Nomination Advisor ...", is quoted ahead of it to complete it."""
    question = ("Which former senator joined the White House team to advise on the Senate "
                "confirmation of the Supreme Court nominee?")
    # With three quotes the full-name line is not among the chosen sentences, so it comes
    # in as a completion (with four it is quoted on its own merit).
    kept = seeds_index.answer_config
    seeds_index.answer_config = dataclasses.replace(kept, max_sentences=3)
    try:
        answer = seeds_index.answer(question)
    finally:
        seeds_index.answer_config = kept
    assert not answer.abstained
    texts = [q.text for q in answer.quotes]
    full = next(i for i, q in enumerate(answer.quotes) if q.completes)
    assert texts[full].startswith("Doug Jones")
    assert "Jones passed" in texts[full + 1] and not answer.quotes[full + 1].completes
    body = seeds_index.release(answer.quotes[0].release_id).body
    assert all(body[q.start:q.end] == q.text for q in answer.quotes
               if q.release_id == answer.quotes[0].release_id)


def test_word_counts_equal_the_tokenizer_text_by_text(model):
    """count_tokens sums per-word counts (rag.model.transformer.WordCounts): the same
    figures as tokenizing each text whole, on real sentences and awkward text."""
    from tokenizers import Tokenizer

    from rag.ingest.sentences import passage_sentences
    from rag.model.folder import model_folder

    releases = load_releases(SEEDS).releases[:80]
    texts = [r.body[s:e] for r in releases for s, e in passage_sentences(r.body)]
    texts += [r.title for r in releases] + [
        "", " ", "a  b", "héllo wörld", "日本語のテキスト", "x" * 300, "emoji 😀", "tab\tsep",
        "\u00a0nbsp", "ＦＵＬＬ width", "a\u0301", "line\nbreak", "\x00ctrl\x07", "U.S.A.",
        "\u200bzero width", "\u2028sep", "naïve café—déjà vu", " lead and trail "]
    tokenizer = Tokenizer.from_file(str(model_folder("bundled").path / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    expected = [len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
    assert model.count_tokens(texts) == expected
    assert model.count_tokens(texts[::-1]) == expected[::-1]  # warm: from the word table


def test_a_lexical_generation_answers_with_quotes(real_config, real_model, seeds_index,
                                                  tmp_path):
    """Before its embedding ends, the seeds' lexical generation answers the battle-groups
    question from BM25 hits, its sentences embedded as the question is answered."""
    from rag import load_index
    from rag.index.build import build_index
    from rag.index import store

    class Stop(Exception):
        pass

    lexical = [g for g in real_config.index.glob("gen-*")
               if store.read_manifest(g).kind == "lexical"]
    if not lexical:  # the session's build did not leave it: make one
        config = real_config.replace(index=tmp_path / "index")
        with pytest.raises(Stop):
            build_index(config, real_model, progress=False, lexical_first=True,
                        on_lexical=lambda _: (_ for _ in ()).throw(Stop()))
        lexical = [store.resolve(config.index)]
    index = load_index(lexical[0], real_config, real_model)
    assert index.lexical_only and len(index) == len(seeds_index)
    answer = index.answer("Which countries received new battle groups?")
    assert not answer.abstained and answer.mode == "bm25"
    first = answer.quotes[0]
    assert "Slovakia, Romania, Bulgaria, and Hungary" in first.text
    assert first.release_id == NATO_ID and f"[{first.source}]" in answer.text
    for quote in answer.quotes:
        assert index.release(quote.release_id).body[quote.start:quote.end] == quote.text
    assert index.answer("What did the President say about the Mars colony budget?").abstained


def test_word_counts_start_a_new_table_when_full(model, monkeypatch):
    from rag.model.transformer import WordCounts

    texts = ["NATO battle groups in Slovakia", "free at-home tests", "NATO tests"]
    expected = model.count_tokens(texts)
    counts = WordCounts(model._counter._tokenizer)
    monkeypatch.setattr(WordCounts, "MAX_WORDS", 4)
    first = counts._counts
    assert [counts([t])[0] for t in texts] == expected
    assert counts(texts) == expected and counts._counts is not first  # started afresh
