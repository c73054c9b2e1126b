"""Question sets for ``rag eval``: questions with their gold releases and the strings a
correct answer quotes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import yaml

from ..errors import ConfigError

QUESTION_KEYS = ("id", "question", "gold", "answer_contains", "unanswerable", "dates")


@dataclass(frozen=True)
class EvalQuestion:
    """One question of a development set.

    ``gold`` holds release ids (paths relative to the seeds folder) or release urls;
    a hit from any of them counts. ``answer_contains`` are strings a correct answer
    quotes. ``dates`` marks questions whose wording names a date window.
    """

    id: str
    question: str
    gold: tuple[str, ...] = ()
    answer_contains: tuple[str, ...] = ()
    unanswerable: bool = False
    dates: bool = False


def _strings(value: Any, where: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not all(
            isinstance(v, (str, int, float)) and not isinstance(v, bool) and str(v).strip()
            for v in value):
        raise ConfigError(f"{where}: {key} must be a list of non-empty strings, got {value!r}")
    return tuple(str(v).strip() for v in value)


def _flag(value: Any, where: str, key: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: {key} = {value!r} must be true or false")
    return value


def read_question_list(path: Path) -> list[Any]:
    """The list of question entries a YAML file holds: a list, or ``questions: [...]``.

    Raises:
        ConfigError: unreadable, not YAML, another top-level key, or no list.
    """
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read question file {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError(f"question file {path} is not valid YAML: {first}") from None
    if isinstance(raw, dict) and "questions" in raw:
        extra = sorted(map(str, set(raw) - {"questions"}))
        if extra:
            raise ConfigError(f"{path}: unknown top-level key(s) {', '.join(extra)} "
                              f"(only `questions` is read)")
        raw = raw["questions"]
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: expected a list of questions (or `questions:` holding one), "
                          f"got {type(raw).__name__}")
    return raw


def question_entries(path: Path, raw: list[Any], known: Sequence[str]
                     ) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(id, where, entry) for each question, checking the rules every question-set format
    shares: a mapping, a unique id, known keys, question text. ``where`` names the file
    and the question for messages."""
    seen: set[str] = set()
    for n, entry in enumerate(raw, 1):
        where = f"{path}: question #{n}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be a mapping with id and question, "
                              f"got {type(entry).__name__}")
        qid = entry.get("id")
        if qid is None or not str(qid).strip():
            raise ConfigError(f"{where} has no id; give every question a unique id")
        qid = str(qid).strip()
        where = f"{path}: question {qid}"
        if qid in seen:
            raise ConfigError(f"{where}: duplicate id; ids must be unique")
        seen.add(qid)
        unknown = sorted(map(str, set(entry) - set(known)))
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} "
                              f"(known: {', '.join(known)})")
        text = entry.get("question")
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"{where}: missing question text (key `question`)")
        yield qid, where, entry


def load_questions(path: str | Path) -> list[EvalQuestion]:
    """Read a question set: a YAML list of questions, or a mapping ``questions: [...]``.

    Raises:
        ConfigError: unreadable file, not YAML, no list of questions, or a question that
            breaks a rule (missing text, duplicate id, unknown key, answerable without
            gold, unanswerable with gold or answer_contains); the message names the file
            and the question.
    """
    path = Path(path)
    questions: list[EvalQuestion] = []
    for qid, where, entry in question_entries(path, read_question_list(path), QUESTION_KEYS):
        text = entry["question"]
        gold = _strings(entry.get("gold"), where, "gold")
        contains = _strings(entry.get("answer_contains"), where, "answer_contains")
        unanswerable = _flag(entry.get("unanswerable"), where, "unanswerable")
        if unanswerable and (gold or contains):
            raise ConfigError(f"{where}: unanswerable but has gold or answer_contains; "
                              f"remove them or drop `unanswerable: true`")
        if not unanswerable and not gold:
            raise ConfigError(f"{where}: answerable but has no gold releases; add `gold: "
                              f"[release id or url]` or mark it `unanswerable: true`")
        questions.append(EvalQuestion(qid, " ".join(text.split()), gold, contains,
                                      unanswerable, _flag(entry.get("dates"), where, "dates")))
    return questions
