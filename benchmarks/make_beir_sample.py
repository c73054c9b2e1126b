"""Write a small BEIR dataset from 40 releases of seeds/: ``tests/data/beir_small/``.

One document per release (``_id`` = release id, ``title``, ``text`` = the normalised
body, ``metadata`` = date and url) and 34 hand-written questions, each paraphrasing a
fact that one specific release states; qrels mark that release relevant (score 1).
Six releases have no question: they stay as distractors, as do the near-duplicates
among the others (three disaster declarations, two national-emergency notices, two
visits by the homeland security adviser).

Commands (from the repository root)::

    .venv/bin/python benchmarks/make_beir_sample.py
    .venv/bin/rag eval --beir tests/data/beir_small --mode all
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rag.ingest.releases import read_release  # noqa: E402

_S = "statements-releases/"

# (release id, question); the release states the answer.
QUERIES: list[tuple[str, str]] = [
    (_S + "2022-03/2022-03-26-readout-of-president-biden-call-with-opposition-leader-svyatlana-tsikhanouskaya-of-belarus.md",
     "Which Belarusian opposition figure did the President phone from Air Force One after his Warsaw speech?"),
    (_S + "2022-02/2022-02-10-statement-by-national-security-advisor-jake-sullivan-on-houthi-attack-against-saudi-arabia.md",
     "Who was blamed for the attack on the city of Abha that wounded civilians?"),
    (_S + "2022-03/2022-03-19-readout-of-homeland-security-advisor-dr-liz-sherwood-randalls-visit-to-france.md",
     "Which French counterterrorism officials did the homeland security adviser meet in Paris?"),
    (_S + "2022-03/2022-03-19-readout-of-homeland-security-advisor-dr-liz-sherwood-randalls-visit-to-kosovo.md",
     "Where are Afghan evacuees being temporarily housed in Kosovo?"),
    (_S + "2022-03/2022-03-30-readout-of-president-bidens-call-with-prime-minister-naftali-bennett-of-israel.md",
     "How many people died in the terror attacks in Israeli cities for which the President offered condolences?"),
    (_S + "2022-03/2022-03-29-president-joseph-r-biden-jr-amends-alaska-disaster-declaration.md",
     "What share of public assistance costs will the federal government now cover for the 2018 Alaska earthquake?"),
    (_S + "2022-03/2022-03-08-president-biden-announces-presidential-delegation-to-the-republic-of-chile-to-attend-the-inauguration-of-his-excellency-gabriel-boric-font.md",
     "Who led the American delegation to the swearing-in of Chile's new president?"),
    (_S + "2022-03/2022-03-02-statement-by-white-house-press-secretary-jen-psaki-on-the-visit-of-president-ivan-duque-marquez-of-the-republic-of-colombia.md",
     "Which anniversary of diplomatic relations were the American and Colombian presidents going to celebrate?"),
    (_S + "2022-03/2022-03-25-statement-by-national-security-council-spokesperson-emily-horne-on-quad-senior-cyber-group-meeting.md",
     "Where did the cybersecurity group of Australia, India, Japan and the United States meet?"),
    (_S + "2022-03/2022-03-16-statement-by-nsc-spokesperson-emily-horne-on-national-security-advisor-jake-sullivans-call-with-nikolay-patrushev-secretary-of-the-russian-security-council-3.md",
     "What warning about chemical or biological weapons was given to the secretary of Russia's Security Council?"),
    (_S + "2022-02/2022-02-23-statement-by-president-biden-on-nord-stream-2.md",
     "Which company and its executives were sanctioned over the gas pipeline from Russia to Germany?"),
    (_S + "2022-02/2022-02-01-readout-of-the-presidents-meeting-with-senate-judiciary-committee-chair-durbin-and-ranking-member-grassley.md",
     "Which senators did the President consult in the Oval Office about his upcoming Supreme Court pick?"),
    (_S + "2022-03/2022-03-21-readout-of-the-administrations-briefing-of-ceos-on-russias-war-against-ukraine.md",
     "How many business leaders were briefed by cabinet officials about the war in Ukraine?"),
    (_S + "2022-03/2022-03-03-a-message-to-the-congress-on-the-continuation-of-the-national-emergency-with-respect-to-iran.md",
     "Since when has the national emergency regarding Iran been in effect?"),
    (_S + "2022-03/2022-03-24-statement-from-president-joe-biden-on-unemployment-insurance-claims-5.md",
     "When was the number of people receiving jobless benefits last as low as it is now?"),
    (_S + "2022-02/2022-02-15-president-joseph-r-biden-jr-approves-hawaii-disaster-declaration-2.md",
     "Which Hawaiian counties were covered by the disaster declaration for the December storms and landslides?"),
    (_S + "2022-02/2022-02-27-president-joseph-r-biden-jr-approves-kentucky-disaster-declaration-4.md",
     "Who coordinates the federal recovery from the Kentucky tornadoes and mudslides?"),
    (_S + "2022-03/2022-03-01-statement-by-press-secretary-jen-psaki-on-the-womens-health-protection-act.md",
     "How did the White House react when Senate Republicans blocked a bill to codify Roe v. Wade?"),
    (_S + "2022-03/2022-03-30-notice-on-the-continuation-of-the-national-emergency-with-respect-to-south-sudan-2.md",
     "When was the national emergency concerning South Sudan first declared, and by which executive order?"),
    (_S + "2022-03/2022-03-10-readout-of-national-security-advisor-jake-sullivan-meeting-with-africa-union-commission-chairperson-moussa-faki-mahamat.md",
     "In which countries did the United States and the African Union discuss restoring democracy?"),
    (_S + "2022-02/2022-02-04-statement-by-president-joe-biden-on-900000-american-deaths-from-covid-19.md",
     "What death toll milestone from the pandemic did the President mark in early February?"),
    (_S + "2022-02/2022-02-17-president-joseph-r-biden-jr-approves-kansas-disaster-declaration.md",
     "Which state got a major disaster declaration for storms and straight-line winds in mid-December 2021?"),
    (_S + "2022-03/2022-03-10-vice-president-kamala-harris-announces-additional-u-s-funding-to-respond-to-humanitarian-needs-in-ukraine-and-eastern-europe.md",
     "How much new humanitarian aid for Ukraine did the Vice President announce in Warsaw?"),
    (_S + "2022-03/2022-03-02-statement-by-the-president-on-the-united-nations-general-assembly-vote-condemning-russias-aggression-against-ukraine.md",
     "How many countries sided with Russia in the General Assembly vote condemning the invasion?"),
    (_S + "2022-02/2022-02-24-statement-by-national-economic-council-director-brian-deese-on-one-year-of-action-and-progress-on-americas-supply-chains.md",
     "How much did GDP grow in the last quarter of 2021, according to the economic council director?"),
    (_S + "2022-02/2022-02-22-readout-of-white-house-meeting-with-parents-to-discuss-efforts-to-invest-in-children-and-cut-the-cost-of-child-care.md",
     "What return does research show for every dollar spent on early childhood care and education?"),
    (_S + "2022-03/2022-03-30-readout-of-vice-president-harriss-meeting-with-prime-minister-holness-of-jamaica.md",
     "How much agricultural investment did the United States promise Jamaica?"),
    (_S + "2022-03/2022-03-08-statement-by-deputy-national-security-advisor-for-cyber-and-emerging-technology-anne-neuberger-on-president-bidens-cyber-executive-order.md",
     "What must companies that sell software to the federal government now have in place?"),
    (_S + "2022-03/2022-03-28-statement-by-president-joe-biden-on-the-fy-2023-budget.md",
     "By how much is the federal deficit expected to fall this year, according to the President's budget statement?"),
    (_S + "2022-03/2022-03-02-statement-by-president-biden-on-texas-attacks-on-transgender-youth.md",
     "How did the President respond to Texas investigating the parents of transgender kids?"),
    (_S + "2022-02/2022-02-14-statement-by-president-biden-four-years-after-the-parkland-shooting-2.md",
     "How many students and staff were killed in the 2018 Florida high school shooting?"),
    (_S + "2022-03/2022-03-24-the-white-house-announces-2022-springtime-events.md",
     "When is the Easter Egg Roll, and how can people get tickets?"),
    (_S + "2022-03/2022-03-15-readout-of-the-march-national-climate-task-force-meeting.md",
     "Who convened the climate task force meeting about gas prices and clean energy?"),
    (_S + "2022-03/2022-03-09-fact-sheet-president-biden-to-sign-executive-order-on-ensuring-responsible-innovation-in-digital-assets.md",
     "What share of American adults have used cryptocurrencies?"),
]

# In the corpus without a question of their own.
DISTRACTORS: list[str] = [
    _S + "2022-03/2022-03-13-readout-of-president-bidens-call-with-president-macron-of-france.md",
    _S + "2022-03/2022-03-16-readout-of-vice-president-harriss-call-with-president-caputova-of-slovakia.md",
    _S + "2022-03/2022-03-01-letter-from-president-biden-to-the-dedicated-members-of-the-federal-workforce.md",
    _S + "2022-02/2022-02-09-statement-by-president-biden-on-the-introduction-of-the-violence-against-women-act-reauthorization-act-of-2022.md",
    _S + "2022-03/2022-03-31-readout-of-white-house-roundtable-on-mental-health-with-young-women-and-girl-leaders.md",
    _S + "2022-03/2022-03-25-remarks-as-prepared-for-delivery-by-first-lady-jill-biden-at-st-jude-childrens-research-hospital.md",
]


def write_sample(seeds: Path, out: Path) -> tuple[int, int]:
    """Write corpus.jsonl, queries.jsonl and qrels/test.tsv; returns (documents, queries)."""
    ids = sorted({rid for rid, _ in QUERIES} | set(DISTRACTORS))
    out.mkdir(parents=True, exist_ok=True)
    (out / "qrels").mkdir(exist_ok=True)
    with (out / "corpus.jsonl").open("w", encoding="utf-8") as f:
        for rid in ids:
            r = read_release(seeds / rid, seeds)
            f.write(json.dumps({"_id": rid, "title": r.title, "text": r.body,
                                "metadata": {"date": r.date.isoformat(), "url": r.url}},
                               ensure_ascii=False) + "\n")
    with (out / "queries.jsonl").open("w", encoding="utf-8") as q, \
            (out / "qrels" / "test.tsv").open("w", encoding="utf-8") as t:
        t.write("query-id\tcorpus-id\tscore\n")
        for n, (rid, question) in enumerate(QUERIES, 1):
            qid = f"wh{n:02d}"
            q.write(json.dumps({"_id": qid, "text": question}, ensure_ascii=False) + "\n")
            t.write(f"{qid}\t{rid}\t1\n")
    return len(ids), len(QUERIES)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default=str(REPO / "seeds"), help="seeds folder")
    p.add_argument("--out", default=str(REPO / "tests" / "data" / "beir_small"),
                   help="folder to write")
    args = p.parse_args()
    docs, queries = write_sample(Path(args.seeds), Path(args.out))
    print(f"wrote {docs} documents and {queries} queries to {args.out}")


if __name__ == "__main__":
    main()
