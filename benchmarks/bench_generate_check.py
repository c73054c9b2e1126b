"""Does the sentence checker catch every unsupported sentence on the tuning questions?

For each question of a question set (default eval/dev_questions.yaml) the index gives
its extracted answer; its quotes become the model's Q1..Qn, and the scripted
chat-completions server of tests/generate_helpers.py (on 127.0.0.1) replies with
prepared text, through the whole path ``answer(..., generate=True)`` takes
(rag.query.generated: prompt, HTTP client, checker, the index's own embedder as the
similarity). The replies, per quote Qk of each answer:

- ``faithful``: every quote copied, each cited ``[Qk]`` (one reply per answer);
- ``shortened``: the first 60% of the quote's words, cited (a condensed restatement);
- ``number changed``: the quote with one figure changed to one no quote holds;
- ``missing quote``: the quote cited as ``[Q<n+1>]``, which does not exist;
- ``name swapped``: the quote with one name replaced by a name no quote holds;
- ``no citation``: the quote without a marker;
- ``mixed``: the faithful copy of Q1, then Q1 with a figure changed (one reply);
- ``other release`` (not a must-be-0 figure): a quote of another question's answer,
  cited as Q1 (only the similarity and the facts can tell).

Prints, per kind, the replies sent and what was shown; the goal is 0 unsupported
shown, and few faithful sentences dropped. Prints figures; never passes or fails.

    .venv/bin/python benchmarks/bench_generate_check.py [--index DIR --seeds DIR]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the scripted server

from bench_common import print_figures  # noqa: E402
from generate_helpers import ScriptedServer, start_server  # noqa: E402

from rag import load_index  # noqa: E402
from rag.config import LLMSettings, config_from_dict  # noqa: E402
from rag.eval.questions import load_questions  # noqa: E402
from rag.generate.check import plain  # noqa: E402
from rag.generate.facts import evidence_of, facts_of  # noqa: E402
from rag.generate.prompt import long_date  # noqa: E402
from rag.model.transformer import load_embedder  # noqa: E402
from rag.query.generated import quote_inputs, with_generated  # noqa: E402

NAMES = ["Jacinda Ardern", "Olaf Scholz", "Emmanuel Macron", "Fumio Kishida", "Justin Trudeau",
         "Lisbon", "Ottawa"]


def _holds_any(quotes, sentence: str, fact_text: str) -> bool:
    """Whether any quote (with its title and date, as the checker sees it) holds the fact
    of ``sentence`` written ``fact_text``."""
    facts = [f for f in facts_of(sentence) if f.text == fact_text]
    evidence = [evidence_of(f"{q.text}\n{q.title}\n{long_date(q.date)}") for q in quotes]
    return any(e.holds(f) for e in evidence for f in facts)


def changed_number(text: str, quotes) -> tuple[str, str] | None:
    """The text with one figure changed to one no quote holds, and the new figure."""
    for fact in facts_of(text):
        if fact.kind not in ("number", "year") or fact.text not in text:
            continue
        digits = re.search(r"\d+", fact.text)
        for step in (7, 13, 101):
            if digits:
                new = (fact.text[:digits.start()] + str(int(digits.group(0)) + step)
                       + fact.text[digits.end():])
            else:  # a number word: write another value in digits
                new = str(int(fact.key[0]) + step)
            tampered = text.replace(fact.text, new, 1)
            if not _holds_any(quotes, tampered, new):
                return tampered, new
    return None


def swapped_name(text: str, quotes) -> tuple[str, str] | None:
    """The text with one name replaced by a name no quote holds, and that name."""
    for fact in facts_of(text):
        if fact.kind != "name" or fact.text not in text:
            continue
        for name in NAMES:
            tampered = text.replace(fact.text, name, 1)
            if not _holds_any(quotes, tampered, name):
                return tampered, name
    return None


def shows_figure(result, figure: str) -> bool:
    """Whether a shown sentence states ``figure`` (as a fact of its own, so "9" is not
    found inside "COVID-19")."""
    return any(s.supported and any(f.text == figure for f in facts_of(plain(s.text)))
               for s in result.sentences)


def shows_name(result, name: str) -> bool:
    return any(s.supported and name in s.text for s in result.sentences)


def cite(text: str, number: int) -> str:
    return f"{text.strip()} [Q{number}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=REPO / "eval" / "dev_questions.yaml")
    parser.add_argument("--seeds", type=Path, default=REPO / "seeds")
    parser.add_argument("--index", type=Path, default=REPO / "index")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    config = config_from_dict({"seeds": str(args.seeds), "index": str(args.index)}, REPO)
    index = load_index(config.index, config, load_embedder(config.model))
    script = ScriptedServer()
    server = start_server(script)
    settings = LLMSettings(base_url=script.url, model="scripted", timeout=30)
    sent: Counter = Counter()      # replies sent, per kind
    shown: Counter = Counter()     # of those, replies that showed what they must not
    faithful = Counter()           # faithful sentences: checked, dropped
    why_dropped: Counter = Counter()
    examples: list[str] = []

    def run(answer, reply: str):
        script.steps = []
        script.reply(reply)
        return with_generated(index, answer, settings, None).generated

    questions = load_questions(args.questions)
    answers = [(q, index.answer(q.question)) for q in questions]
    answered = [(q, a) for q, a in answers if not a.abstained]
    try:
        for i, (question, answer) in enumerate(answered):
            quotes = answer.quotes
            n = len(quotes)
            inputs = quote_inputs(index, answer)

            def faithful_kind(kind: str, reply: str) -> None:
                sent[kind] += 1
                result = run(answer, reply)
                for s in result.sentences:
                    faithful[kind + " sentences"] += 1
                    if not s.supported:
                        faithful[kind + " dropped"] += 1
                        why_dropped[re.sub(r"[\d.]+|\bQ\d+|(?<=\s)\S+ is not in", "_",
                                           s.why)] += 1
                        if len(examples) < 8:
                            examples.append(f"{question.id} {kind}: {s.text!r} -> {s.why}")

            def unsupported(kind: str, reply: str, leaked) -> None:
                sent[kind] += 1
                result = run(answer, reply)
                if leaked(result):
                    shown[kind] += 1
                    examples.append(f"{question.id} {kind} SHOWN: {result.shown_text!r}")
                return result

            faithful_kind("faithful", " ".join(cite(q.text, k) for k, q in enumerate(quotes, 1)))
            for k, quote in enumerate(quotes, 1):
                words = quote.text.split()
                faithful_kind("shortened", cite(" ".join(words[:max(6, int(len(words) * .6))])
                                                .rstrip(",;:") + ".", k))
                number = changed_number(quote.text, inputs)
                if number:
                    tampered, new = number
                    unsupported("number changed", cite(tampered, k),
                                lambda r, new=new: shows_figure(r, new))
                unsupported("missing quote", cite(quote.text, n + 1),
                            lambda r: any(s.supported and n + 1 in s.quotes
                                          for s in r.sentences))
                name = swapped_name(quote.text, inputs)
                if name:
                    tampered, new = name
                    unsupported("name swapped", cite(tampered, k),
                                lambda r, new=new: shows_name(r, new))
                unsupported("no citation", quote.text, lambda r: r.generated)
            number = changed_number(quotes[0].text, inputs)
            if number:
                tampered, new = number
                # The invented figure must not show; the faithful copy should.
                mixed = unsupported("mixed", f"{cite(quotes[0].text, 1)} {cite(tampered, 1)}",
                                    lambda r, new=new: shows_figure(r, new))
                if mixed.generated:
                    faithful["mixed: faithful part kept"] += 1
                else:
                    examples.append(f"{question.id} mixed, faithful part lost: "
                                    f"{[(x.text, x.why) for x in mixed.sentences]}")
            other = answered[(i + 1) % len(answered)][1].quotes[0].text
            if other not in {q.text for q in quotes}:
                unsupported("other release", cite(other, 1), lambda r: r.generated)
    finally:
        server.shutdown()
        server.server_close()

    must_be_zero = [k for k in sent if k not in ("faithful", "shortened", "other release")]
    figures: dict[str, object] = {
        "questions": len(questions), "answered (quotes to check)": len(answered),
        "abstained (no model call)": len(answers) - len(answered),
        "model calls": len(script.received),
    }
    for kind in must_be_zero:
        figures[f"{kind}: replies / unsupported shown"] = f"{sent[kind]} / {shown[kind]}"
    figures["UNSUPPORTED SHOWN (must be 0)"] = sum(shown[k] for k in must_be_zero)
    figures["other release cited as Q1: replies / shown"] = \
        f"{sent['other release']} / {shown['other release']}"
    for kind in ("faithful", "shortened"):
        figures[f"{kind}: sentences / dropped"] = \
            f"{faithful[kind + ' sentences']} / {faithful[kind + ' dropped']}"
    figures["mixed: faithful part kept"] = f"{faithful['mixed: faithful part kept']} of " \
                                           f"{sent['mixed']}"
    figures["faithful or shortened dropped, by reason"] = dict(why_dropped.most_common())
    print_figures(figures, args.json)
    if examples and not args.json:
        print("\nexamples:\n  " + "\n  ".join(examples[:20]))


if __name__ == "__main__":
    main()
