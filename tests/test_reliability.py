"""Reliability and safety: bad release files, killed builds, damaged indexes, rebuilds
while answering, and hostile questions (fake embedder; the kill tests run a build in a
subprocess with the same fake embedder, so no model is loaded anywhere).

Unreadable files: these tests may run as root (they do in this sandbox), and root reads
a chmod-000 file or folder anyway. So the files are chmod-000'ed as usual *and*, when
``os.geteuid() == 0``, ``Path.read_bytes`` (for the file) and ``os.scandir`` (for the
folder) are monkeypatched to raise the PermissionError a normal user would get; the code
under test sees the same error either way.
"""

from __future__ import annotations

import dataclasses

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from rag import cli
from rag.index import store
from rag.index.build import build_index
from rag.ingest.chunking import chunk_release
from rag.config import ChunkConfig, config_from_dict
from rag.errors import IndexCorruptError, IndexLockedError, QuestionError, RagError
from rag.ingest.releases import MAX_FILE_BYTES, load_releases, parse_release, read_release
from rag.web.render import answer_markdown, escape_markdown, sources_html
from rag import load_index
from rag.web.app import ALL_CATEGORIES, AppState, respond
from conftest import COVID, ENERGY, HOSTILE, NATO, FakeEmbedder, release_text, write_release

TESTS = Path(__file__).resolve().parent
AS_ROOT = os.geteuid() == 0
QUESTIONS = ["Which countries received new battle groups?", "free COVID tests households",
             "barrels of oil per day from the reserve", "NATO collective defense"]


@pytest.fixture
def conf(tmp_path, config) -> str:
    """A rag.yaml with the same settings as the ``config`` fixture."""
    path = tmp_path / "rag.yaml"
    path.write_text(f"seeds: {config.seeds}\nindex: {config.index}\n"
                    "chunking:\n  max_tokens: 40\n  header_tokens: 16\n")
    return str(path)


def _one_line_error(capsys, *needles: str) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


# --- Bad input files -----------------------------------------------------------------------

def _deny(monkeypatch, path: Path, what: str) -> None:
    """Make ``path`` unreadable: chmod 000, plus a simulated EACCES when running as root."""
    path.chmod(0)
    if not AS_ROOT:
        return
    denied = PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
    if what == "file":
        real_read_bytes = Path.read_bytes

        def read_bytes(self):
            if self == path:
                raise denied
            return real_read_bytes(self)
        monkeypatch.setattr(Path, "read_bytes", read_bytes)
    else:
        real_scandir = os.scandir

        def scandir(top="."):
            if isinstance(top, (str, os.PathLike)) and Path(top) == path:
                raise denied
            return real_scandir(top)
        monkeypatch.setattr(os, "scandir", scandir)  # os.walk looks it up at each call


@pytest.fixture
def mixed_seeds(seeds: Path, monkeypatch):
    """The three good seeds, two more good releases (one with unknown keys), a second
    copy of one of them (same url), symlink loops and one file of every bad kind.

    Yields:
        (good release ids, {skipped path: regex its reason must match}).
    """
    good = sorted(r.id for r in load_releases(seeds).releases)
    write_release(seeds, "odd/extra-keys.md", "Extra keys are harmless", "2022-03-10",
                  "A release whose front matter carries keys nobody reads.",
                  extra="mood: sunny\nlocation: {city: Washington}\nauthors: [a, b]\n")
    write_release(seeds, "dup/first.md", "First copy", "2022-03-11", "The page saved once.",
                  url="https://www.whitehouse.gov/briefing-room/same/")
    write_release(seeds, "dup/second.md", "Second copy", "2022-03-11", "The page saved twice.",
                  url="https://www.whitehouse.gov/briefing-room/same/")
    good += ["dup/first.md", "odd/extra-keys.md"]
    bad = seeds / "bad"
    bad.mkdir()
    files = {
        "broken-yaml.md": ("---\ntitle: [unclosed\ndate: '2022-03-01'\n---\nBody.\n",
                           r"front matter is not valid YAML \(.+\)"),
        "never-closed.md": ("---\ntitle: T\ndate: '2022-03-01'\nThe body, but no second line.\n",
                            r"front matter is never closed \(no second '---' line\)"),
        "no-title.md": ("---\ndate: '2022-03-01'\n---\nBody.\n", "missing title"),
        "no-date.md": ("---\ntitle: T\n---\nBody.\n", "missing date"),
        "impossible-date.md": ("---\ntitle: T\ndate: 2022-02-30\n---\nBody.\n",
                               r"date '2022-02-30' is not a valid YYYY-MM-DD date"),
        "impossible-date-quoted.md": (release_text("T2", "2022-02-30", "Body."),
                                      r"date '2022-02-30' is not a valid YYYY-MM-DD date"),
        "latin-1.md": (release_text("Café", "2022-03-01", "Un café.").encode("latin-1"),
                       r"not UTF-8 \(byte 0xe9 at offset \d+\)"),
        "picture.md": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(range(256)),
                       r"binary file \(contains NUL bytes\)"),
        "empty.md": ("", r"no front matter \(the file must start with a '---' line\)"),
        "blank-body.md": ("---\ntitle: T\ndate: '2022-03-01'\n---\n \n\t\n\u00a0\n\n",
                          "empty body"),
        "huge.md": (release_text("Huge", "2022-03-01", "Word " * (4 * 2**20)),
                    r"file is 20\.0 MB, more than the 2 MB a release may have"),
    }
    expected = {"dup/second.md": r"same url as dup/first\.md"}
    for name, (content, reason) in files.items():
        path = bad / name
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        expected[f"bad/{name}"] = reason
    assert (bad / "huge.md").stat().st_size > 10 * MAX_FILE_BYTES
    # Symlink loops: a folder linking to its parent (not followed, so nothing is read
    # twice) and a file linking to itself (skipped: the OS refuses to resolve it).
    (seeds / "dup" / "loop").symlink_to("..", target_is_directory=True)
    (bad / "self.md").symlink_to("self.md")
    expected["bad/self.md"] = r"cannot read \(Too many levels of symbolic links\)"
    # A named pipe would block a reader forever.
    os.mkfifo(bad / "pipe.md")
    expected["bad/pipe.md"] = "not a regular file"
    # Unreadable: one file, and one folder holding an otherwise good release.
    (bad / "locked.md").write_text(release_text("Locked", "2022-03-01", "Secret."))
    _deny(monkeypatch, bad / "locked.md", "file")
    expected["bad/locked.md"] = r"cannot read \(Permission denied\)"
    write_release(seeds, "locked-folder/hidden.md", "Hidden", "2022-03-01", "Never seen.")
    _deny(monkeypatch, seeds / "locked-folder", "folder")
    expected["locked-folder"] = r"cannot read folder \(Permission denied\)"
    yield sorted(good), expected
    for path in (seeds / "locked-folder", bad / "locked.md"):  # let tmp_path be removed
        if path.exists():
            path.chmod(0o755)


def _check_skipped(skipped, expected: dict[str, str]) -> None:
    got = {s.path: s.reason for s in skipped}
    assert sorted(got) == sorted(expected)
    for path, reason in expected.items():
        assert re.fullmatch(reason, got[path]), (path, got[path])


def test_every_bad_file_is_skipped_with_its_reason(seeds, mixed_seeds):
    good, expected = mixed_seeds
    loaded = load_releases(seeds)
    assert [r.id for r in loaded.releases] == good
    _check_skipped(loaded.skipped, expected)
    extra = next(r for r in loaded.releases if r.id == "odd/extra-keys.md")
    assert extra.title == "Extra keys are harmless" and "nobody reads" in extra.body


def test_build_over_mixed_folder_indexes_every_good_release(config, embedder, mixed_seeds):
    good, expected = mixed_seeds
    report = build_index(config, embedder, progress=False)
    assert sorted(report.added) == good
    _check_skipped(report.skipped, expected)
    summary = report.summary()
    assert f"skipped {len(expected)} file(s):" in summary
    for path in expected:
        assert f"\n  {path}: " in summary
    index = load_index(config.index, config, embedder)
    assert sorted(r.id for r in index.releases) == good
    manifest = index.manifest
    assert sorted(manifest.skipped) == sorted(expected)
    assert dataclasses.asdict(manifest.counts) == {"releases": len(good), "passages": len(index),
                                  "skipped": len(expected)}
    # Every good release is searchable; nothing from a bad file is.
    for release in index.releases:
        hits = index.retrieve(release.title + " " + release.body[:80], top_k=10,
                              question_dates=False)  # the bodies say "today"
        assert release.id in {h.release_id for h in hits}
    assert not any(r.id.startswith(("bad/", "locked-folder/", "dup/loop/"))
                   for r in index.releases)


def test_cli_index_exit_status_3_skipped_0_clean_1_failure(fake_model, conf, config, seeds,
                                                           mixed_seeds, capsys):
    _, expected = mixed_seeds
    assert cli.main(["--config", conf, "index", "--quiet"]) == cli.EXIT_SKIPPED == 3
    out = capsys.readouterr().out
    for path in expected:
        assert f"  {path}: " in out
    # Remove every bad file: the same command now exits 0.
    (seeds / "locked-folder").chmod(0o755)
    shutil.rmtree(seeds / "locked-folder")
    shutil.rmtree(seeds / "bad")
    (seeds / "dup" / "second.md").unlink()
    assert cli.main(["--config", conf, "index", "--quiet"]) == cli.EXIT_OK == 0
    assert "skipped" not in capsys.readouterr().out
    # A failure (another build holds the index) exits 1 with one line and changes nothing.
    before = os.readlink(config.index / "current")
    (seeds / "dup" / "first.md").unlink()
    with store.build_lock(config.index):
        assert cli.main(["--config", conf, "index", "--quiet"]) == cli.EXIT_ERROR == 1
    _one_line_error(capsys, "another `rag index` is building")
    assert os.readlink(config.index / "current") == before
    assert cli.main(["--config", conf, "index", "--quiet", "--seeds", str(seeds / "nope")]) == 1
    _one_line_error(capsys, "does not exist or is not a folder")


@pytest.mark.parametrize("body", [
    "[" * 300_000,                                   # unclosed link texts
    "![" * 150_000,                                  # unclosed image texts
    "<table " * 40_000,                              # tables never closed
    "<table><tr " + "<tr " * 70_000 + "</table>",    # rows never closed
    "." * 300_000 + " and so on",                    # a run of dots, no sentence after it
])
def test_pathological_release_is_read_and_chunked_in_bounded_time(tmp_path, embedder, body):
    """Each of these once took minutes to hours (a regex rescanning the rest of the text
    from every position); ``benchmarks/bench_hostile.py`` prints how long they take now
    (a timing has no place in a test on a shared machine), this checks they finish."""
    path = write_release(tmp_path, "evil.md", "Evil", "2022-03-01", body + "\n\nThe end.")
    release = read_release(path, tmp_path)
    passages = chunk_release(release, ChunkConfig(max_tokens=64), embedder.count_tokens)
    assert passages and all(release.body[p.start:p.end] == p.text for p in passages)


def test_deeply_nested_front_matter_is_a_release_error():
    text = "---\ntitle: " + "[" * 5000 + "]" * 5000 + "\ndate: '2022-03-01'\n---\nBody.\n"
    with pytest.raises(RagError, match=r"^deep\.md: front matter is not valid YAML \(maximum "
                                       r"recursion depth exceeded"):
        parse_release(text, "deep.md")


# --- Crashes, locks and corruption ---------------------------------------------------------

# The build a test kills: the fake embedder, and a pause (marker file written first) at
# one point: inside embed, before vectors.npy is written, or before `current` is swapped.
BUILD_SCRIPT = r"""
import os, sys, time
from pathlib import Path

tests, config_path, point, marker, pause = sys.argv[1:6]
sys.path.insert(0, tests)
from conftest import FakeEmbedder
from rag.index import store
from rag.index.build import build_index
from rag.config import load_config


def pause_at(name):
    if name == point:
        Path(marker).write_text(name)
        time.sleep(float(pause))


class SlowEmbedder(FakeEmbedder):
    def embed(self, texts):
        pause_at("embed")
        return super().embed(texts)


write_file = store.write_file
def slow_write_file(path, write):
    if Path(path).name == store.VECTORS:  # releases.jsonl and passages.npy are written
        pause_at("save")
    write_file(path, write)
store.write_file = slow_write_file

replace = os.replace
def slow_replace(src, dst):
    if Path(dst).name == store.CURRENT:
        pause_at("swap")
    replace(src, dst)
store.os.replace = slow_replace  # store.os is this process's os module

report = build_index(load_config(config_path), SlowEmbedder(), progress=False)
print(report.summary(), flush=True)
"""


def _start_build(tmp_path: Path, conf: str, point: str, pause: float):
    marker = tmp_path / f"reached-{point}"
    marker.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", BUILD_SCRIPT, str(TESTS), conf, point,
                             str(marker), str(pause)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"build ended before {point}: {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"build never reached {point}")
        time.sleep(0.05)
    return proc


def _hits(index) -> list:
    return [index.retrieve(q, top_k=3) for q in QUESTIONS]


def _leftovers(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.iterdir()
                  if p.name.startswith((".tmp-", f".{store.CURRENT}-")))


@pytest.mark.parametrize("point", ["embed", "save", "swap"])
def test_build_killed_at_any_point_leaves_the_old_index(tmp_path, config, conf, seeds, point):
    embedder = FakeEmbedder()
    build_index(config, embedder, progress=False)
    before_link = os.readlink(config.index / "current")
    expected = _hits(load_index(config.index, config, embedder))
    write_release(seeds, "statements-releases/2022-03/new.md", "Semiconductor news",
                  "2022-03-29", "The President signed an order on semiconductor supply chains.")

    proc = _start_build(tmp_path, conf, point, pause=60)
    proc.kill()  # SIGKILL: no cleanup code runs
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    # The kill really happened mid-build: what it left behind depends on where.
    left = _leftovers(config.index)
    if point == "embed":
        assert left == []
    elif point == "save":
        assert [n for n in left if n.startswith(".tmp-")] and not [
            n for n in left if n.startswith(".current-")]
    else:  # the new generation is complete and linked, but `current` was not swapped
        assert [n for n in left if n.startswith(".current-")]
        assert len(list(config.index.glob("gen-*"))) == 2

    # The previous index is intact: same link, same hits.
    assert os.readlink(config.index / "current") == before_link
    assert _hits(load_index(config.index, config, embedder)) == expected

    # The next build completes (the lock died with the process) and cleans up.
    report = build_index(config, embedder, progress=False)
    assert report.wrote and report.added == ["statements-releases/2022-03/new.md"]
    assert _leftovers(config.index) == []
    # Kept: the new generation and the one readers had before it (not a crashed build's).
    gens = sorted(p.name for p in config.index.glob("gen-*"))
    assert gens == sorted([os.readlink(config.index / "current"), before_link])
    index = load_index(config.index, config, embedder)
    assert index.retrieve("semiconductor supply chains", 1)[0].release_id == \
        "statements-releases/2022-03/new.md"


def test_two_builds_at_once_second_stops_or_waits(tmp_path, fake_model, config, conf, seeds,
                                                  capsys):
    embedder = FakeEmbedder()
    build_index(config, embedder, progress=False)
    expected = _hits(load_index(config.index, config, embedder))
    write_release(seeds, "statements-releases/2022-03/new.md", "Semiconductor news",
                  "2022-03-29", "The President signed an order on semiconductor supply chains.")
    proc = _start_build(tmp_path, conf, "embed", pause=3)  # holds the lock ~3 s, then ends
    try:
        with pytest.raises(IndexLockedError, match=r"another `rag index` is building .*"
                                                   r"wait for it to finish, or pass --wait"):
            build_index(config, embedder, progress=False)
        assert cli.main(["--config", conf, "index", "--quiet"]) == 1
        _one_line_error(capsys, "another `rag index` is building", "--wait SECONDS")
        # Readers are not blocked meanwhile, and see the old index whole.
        assert _hits(load_index(config.index, config, embedder)) == expected
        # With lock_wait the second build waits for the first, then finds it has no work.
        started = time.monotonic()
        report = build_index(config, embedder, progress=False, lock_wait=60)
        assert time.monotonic() - started > 0.5
    finally:
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "1 added" in out and not report.wrote and report.unchanged == 4
    # Never a mix: one consistent generation holding exactly the releases of the seeds.
    gen = store.read_generation(store.resolve(config.index))
    ids = [r.id for r in gen.releases]
    assert ids == sorted(r.id for r in load_releases(seeds).releases)
    assert sorted(gen.manifest.releases) == ids
    index = load_index(config.index, config, embedder)
    for row in range(len(index)):
        hit = index.hit(row, 1, 0.0)
        assert index.release(hit.release_id).body[hit.start:hit.end] == hit.text


def _edit_manifest(change):
    def damage(gen: Path) -> None:
        manifest = json.loads((gen / store.MANIFEST).read_text())
        change(manifest)
        (gen / store.MANIFEST).write_text(json.dumps(manifest))
    return damage


def _truncate(name: str, keep: int):
    def damage(gen: Path) -> None:
        (gen / name).write_bytes((gen / name).read_bytes()[:keep])
    return damage


def _passages(change):
    def damage(gen: Path) -> None:
        passages = np.load(gen / store.PASSAGES)
        np.save(gen / store.PASSAGES, change(passages))
    return damage


def _point_outside(passages):
    passages["end"][-1] = 10**6
    return passages


DAMAGE = [
    ("truncated faiss", _truncate(store.FAISS, 100), r"index\.faiss cannot be read \("),
    ("manifest not JSON", lambda gen: (gen / store.MANIFEST).write_text('{"format_version": 1,'),
     r"manifest\.json cannot be read \("),
    ("manifest counts edited", _edit_manifest(lambda m: m["counts"].update(passages=999)),
     r"manifest\.json counts 3 releases and 999 passages, the files hold 3 and \d+"),
    ("manifest section nulled", _edit_manifest(lambda m: m.update(model=None)),
     r"manifest\.json is damaged: model not as written by `rag index`"),
    ("manifest releases edited", _edit_manifest(lambda m: m["releases"].popitem()),
     r"manifest\.json and releases\.jsonl list different releases"),
    ("passages fewer than vectors", _passages(lambda p: p[:-1]),
     r"vectors\.npy holds \d+ vectors for \d+ passages"),
    ("passages point outside", _passages(_point_outside),
     r"passages\.npy points outside the releases in releases\.jsonl"),
    ("vectors truncated", _truncate(store.VECTORS, 200), r"vectors\.npy cannot be read \("),
    ("releases.jsonl garbage", lambda gen: (gen / store.RELEASES).write_text("{nope\n"),
     r"releases\.jsonl cannot be read \("),
    ("bm25 folder missing", lambda gen: shutil.rmtree(gen / store.BM25), r"\bbm25 missing"),
    ("bm25 postings truncated", _truncate(f"{store.BM25}/rows.npy", 100),
     r"bm25/rows\.npy cannot be read \("),
    ("bm25 vocabulary missing", lambda gen: (gen / store.BM25 / "vocab.json").unlink(),
     r"bm25/vocab\.json cannot be read \("),
]


@pytest.mark.parametrize("damage, message", [d[1:] for d in DAMAGE], ids=[d[0] for d in DAMAGE])
def test_damaged_index_is_refused_in_one_line_naming_file_and_fix(fake_model, config, conf,
                                                                   capsys, damage, message):
    assert cli.main(["--config", conf, "index", "--quiet"]) == 0
    damage((config.index / "current").resolve())
    capsys.readouterr()
    with pytest.raises(IndexCorruptError, match=message + r".*; run `rag index --full` to "
                                                          r"rebuild it$") as caught:
        load_index(config.index, config, fake_model)
    assert "\n" not in str(caught.value)
    assert cli.main(["--config", conf, "search", "battle groups"]) == 1
    _one_line_error(capsys, "rag index --full")
    assert cli.main(["--config", conf, "ask", "Which countries received battle groups?"]) == 1
    _one_line_error(capsys, "rag index --full")
    # The fix the message names works.
    assert cli.main(["--config", conf, "index", "--quiet", "--full"]) == 0
    capsys.readouterr()
    assert cli.main(["--config", conf, "search", "battle groups", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)


# --- Rebuilds while answering --------------------------------------------------------------

def _wait_for_rebuild(state: AppState, timeout: float = 60) -> None:
    # rebuild() sets _building before it returns and the thread clears it when done
    # (last_build alone can repeat: two rebuilds may print the same summary line).
    deadline = time.monotonic() + timeout
    while state._building:
        assert time.monotonic() < deadline, "the rebuild did not finish"
        time.sleep(0.02)


def test_rebuild_swaps_index_without_failed_or_mixed_answers(config, embedder, seeds):
    for i in range(30):  # a bigger index, so a rebuild takes a while
        write_release(seeds, f"more/{i:02}.md", f"Release number {i}", f"2022-02-{i % 28 + 1:02}",
                      f"Paragraph {i} about trade, energy and NATO allies.\n\n" * 8)
    build_index(config, embedder, progress=False)
    state = AppState(config, load_index(config.index, config, embedder))
    stop = threading.Event()
    errors: list[str] = []
    seen: set[int] = set()
    counts = [0]

    def ask_in_loop(worker: int) -> None:
        n = 0
        while not stop.is_set():
            question = QUESTIONS[(worker + n) % len(QUESTIONS)] + f" {n % 3}"
            n += 1
            index = state.index
            seen.add(id(index))
            try:
                for hit in index.retrieve(question, top_k=5):
                    body = index.release(hit.release_id).body
                    assert body[hit.start:hit.end] == hit.text, (hit.release_id, hit.start)
                answer = index.answer(question)
                for quote in answer.quotes:
                    assert index.release(quote.release_id).body[quote.start:quote.end] == \
                        quote.text
                for source in answer.sources:
                    body = index.release(source.hit.release_id).body
                    assert body[source.hit.start:source.hit.end] == source.hit.text
                counts[0] += 1
            except BaseException as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(f"{type(exc).__name__}: {exc}")
                return

    workers = [threading.Thread(target=ask_in_loop, args=(w,), daemon=True) for w in range(4)]
    for w in workers:
        w.start()
    try:
        indexes = [state.index]
        for edit in ("first", "second"):
            time.sleep(0.2)
            write_release(seeds, "statements-releases/2022-03/covid.md", "Free COVID tests",
                          "2022-03-02", f"Households can order a {edit} extra round of tests.")
            answered = counts[0]
            state.rebuild()
            _wait_for_rebuild(state)
            assert state.last_build.startswith("Last rebuild: incremental: 0 added, 1 changed")
            assert counts[0] > answered  # questions were answered while it rebuilt
            indexes.append(state.index)
        time.sleep(0.2)
    finally:
        stop.set()
        for w in workers:
            w.join(timeout=30)
    assert not errors, errors[:3]
    assert len({id(i) for i in indexes}) == 3 and {id(i) for i in indexes} <= seen
    assert "second extra round" in state.index.retrieve("second extra round of tests", 1)[0].text


# --- Hostile and odd questions -------------------------------------------------------------

@pytest.fixture(scope="module")
def hostile_index(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    seeds = root / "seeds"
    write_release(seeds, "a/nato.md", "NATO summit statement", "2022-03-24", NATO)
    write_release(seeds, "a/covid.md", "Free COVID tests", "2022-03-02", COVID)
    write_release(seeds, "a/oil.md", "Oil reserve release", "2022-03-31", ENERGY)
    write_release(seeds, "test/hostile.md", "Hostile <b>markup</b> test release", "2022-03-15",
                  HOSTILE)
    config = config_from_dict({"seeds": str(seeds), "index": str(root / "index"),
                               "chunking": {"max_tokens": 40, "header_tokens": 16}}, root)
    embedder = FakeEmbedder()
    build_index(config, embedder, progress=False)
    return config, load_index(config.index, config, embedder)


_ALLOWED_TAGS = {"div", "span", "a", "h3", "details", "summary", "mark", "br", "strong"}
_ALLOWED_ATTRIBUTES = {"class", "href", "target", "rel", "data-number", "data-date"}

ODD_QUESTIONS = {
    "nul": "battle\x00groups\x00",
    "escape codes": "\x1b[31mWhich countries received battle groups?\x1b[0m",
    "control only": "\x00\x01\x02\x7f",
    "emoji": "🇺🇦🚀 battle groups? 👍🏽",
    "emoji only": "🇺🇦🚀👍🏽",
    "arabic": "ما هي مجموعات القتال الجديدة؟",
    "hebrew": "אילו מדינות קיבלו קבוצות קרב?",
    "rtl override": "\u202eWhich countries received battle groups?\u202c",
    "script tag": "<script>alert('x')</script> hostile injection test release",
    "img tag": "<img src=x onerror=alert(1)> Which release tries to inject markup?",
    "html entities": "&lt;script&gt; &amp; battle groups",
    "markdown": "**bold** [link](javascript:alert(1)) `code` # heading",
    "month only": "March 2022",
    "day only": "2022-03-24",
    "impossible date": "2022-02-30",
    "at the limit": "battle groups " + "x" * 1985,
}


def _check_answer(index, question: str) -> None:
    # How long each takes is printed by benchmarks/bench_hostile.py.
    hits = index.retrieve(question)
    answer = index.answer(question)
    for hit in hits + [s.hit for s in answer.sources]:
        assert index.release(hit.release_id).body[hit.start:hit.end] == hit.text
    markdown, panel = answer_markdown(answer), sources_html(answer)
    assert "<" not in markdown  # every character from a release or the user is escaped
    # Only the panel's own tags and attributes; no markup from the text gets through.
    for tag in re.findall(r"<[^>]*>", panel):
        name, *attributes = re.findall(r"^</?([a-z0-9]+)|\s([\w-]+)=", tag)
        assert name[0] in _ALLOWED_TAGS, tag
        assert {a for _, a in attributes} <= _ALLOWED_ATTRIBUTES, tag
    assert not re.search(r"<script|<img", panel, re.IGNORECASE)
    assert "<" not in escape_markdown(question)


@pytest.mark.parametrize("question", ODD_QUESTIONS.values(), ids=ODD_QUESTIONS.keys())
def test_odd_questions_are_answered_safely(hostile_index, question):
    _, index = hostile_index
    _check_answer(index, question)


def test_markup_in_a_release_is_shown_escaped(hostile_index):
    _, index = hostile_index
    answer = index.answer("Which release tries to inject markup with a script tag and an image?")
    assert any("xssFlag" in s.hit.text for s in answer.sources)  # the hostile text is shown
    panel = sources_html(answer)
    assert "&lt;script&gt;window.xssFlag" in panel and "&lt;img src=x" in panel
    assert "Hostile &lt;b&gt;markup&lt;/b&gt; test release" in panel
    _check_answer(index, "Which release tries to inject markup with a script tag and an image?")


def test_date_only_questions_read_the_window(hostile_index):
    _, index = hostile_index
    month = index.answer("March 2022")
    assert month.date_window.describe() == "March 1, 2022 – March 31, 2022"
    assert all(s.hit.date.month == 3 for s in month.sources) and month.sources
    day = index.answer("2022-03-01")  # no release that day
    assert day.abstained and not day.sources
    assert day.text == "No release dated March 1, 2022 answers this question."
    assert index.answer("2022-02-30").date_window is None  # impossible: not a window


@pytest.mark.parametrize("question, message", [
    ("", r"^the question is empty; type a question about the releases$"),
    (" \t\n\u3000 ", r"^the question is empty"),
    ("x" * 100_000, r"^the question is 100000 characters long; the limit is 2000$"),
    ("battle groups \ud800", r"^the question is not valid text \(character 15 is an unpaired "
                             r"surrogate"),
])
def test_unusable_questions_are_question_errors(hostile_index, question, message):
    config, index = hostile_index
    for ask in (index.retrieve, index.answer):
        with pytest.raises(QuestionError, match=message):
            ask(question)
    # The web handler shows it as one warning line in the chat, never a traceback.
    state = AppState(config, index)
    *_, (history, panel) = respond(state, question, [], "", "", ALL_CATEGORIES, "hybrid", 5)
    assert history[-1]["content"].startswith("⚠️ the question is") and panel == ""


def test_unusable_question_in_the_cli_is_one_line(fake_model, conf, capsys):
    assert cli.main(["--config", conf, "index", "--quiet"]) == 0
    # Bytes that are not UTF-8 on the command line arrive as lone surrogates.
    question = os.fsdecode(b"battle groups \xff")
    assert cli.main(["--config", conf, "ask", question]) == 1
    _one_line_error(capsys, "the question is not valid text")
