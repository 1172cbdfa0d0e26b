"""The summary parser's whole-file path (one regex, a row per line) against its line-by-line path.

A summary small enough to read whole is split into rows by ``_ROWS`` and only lines of an unusual
shape go through ``_State.feed``; a big file is streamed through ``feed`` line by line. Both must
give the same model and the same problems (with the same line numbers), whatever the lines hold.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus_cache import ROUNDS
from hypothesis import given, settings
from hypothesis import strategies as st

import checker.parse.loadgen_summary as summary_module
from checker.parse.loadgen_summary import parse_summary

RULE = "=" * 48
# A current-layout summary (the shape of the v4.1 corpus), short but with every part.
MODERN = [
    RULE, "MLPerf Results Summary", RULE,
    "SUT name : PySUT",
    "Scenario : Offline",
    "Mode     : PerformanceOnly",
    "Samples per second: 381.124",
    "Result is : VALID",
    "  Min duration satisfied : Yes",
    "  Min queries satisfied : Yes",
    "  Early stopping satisfied: Yes",
    "",
    RULE, "Additional Stats", RULE,
    "Min latency (ns)                : 3058362306",
    "Max latency (ns)                : 757484044816",
    "50.00 percentile latency (ns)   : 490711529598",
    "99.90 percentile latency (ns)   : 757483953436",
    "",
    RULE, "Test Parameters Used", RULE,
    "samples_per_query : 288695",
    "target_qps : 437.417",
    "target_latency (ns): 0",
    "performance_sample_count : 10833",
    "",
    "No warnings encountered during test.",
    "",
    "No errors encountered during test.",
]
# Where a tricky line is put: after these lines of MODERN (results, statistics, parameters, footer).
PLACES = {"results": 5, "stats": 17, "parameters": 24, "footer": 28}
# Lines that look like 'key : value' but are not plain, or are plain in odd ways; each one alone.
TRICKY = [
    "No warnings : 3",  # a footer count by its key
    "2 ERRORS : z",
    "no errors : lowercase",  # feed tests the footer only after a capital N
    "Early Stopping Result: a : b",
    "Per-query latency:  \"target_ns\" : 50000000, \"target_ms\" : 50",  # a block title in statistics
    "per-sample latency (ns)  : 7",
    "Intervals between each IssueQuery:  \"qps\" : 20, \"ms\" : 50",
    "  Foo  :   bar  baz \t",
    "Durée : 5",  # a key _KEY accepts that the row regex leaves to feed
    "key :\u00a0value\u00a0",  # no-break spaces: str.strip removes them
    "k\u00a0: v",
    "\u2028k : v",  # a line separator is not a newline here
    "k :\x0bv\x0c",
    "qps : 1\x00 2",  # feed drops NUL bytes before anything else
    "\x00",
    "SUT name : HABANA_Runner\x00",
    "== ==",
    " === ",
    "a\tb : c",  # a tab inside a key: not a key
    "   :",
    "Result is :",
    "Mode : Hyper",
    "Scenario: Multi Stream",
    "Test Parameters Used ",
    "\ufeffSUT name : bom",
    "x" * 300 + " : long",
    "k : v\r",  # a stray CR before the newline
    "k\r: v",
    "\rk : v",
    "* Processed at least 64 queries (62515).",
    "Samples per query : 25",
    "Max latency (ns) : n/a",  # a latency that is no number: a field, not a statistic
    "Mean latency (ns) : -1.5e3",
]
FREE_TEXT = [  # blocks whose 'key : value' lines are notes, up to the next blank line
    ["WARNING : careful", "Foo : bar", "No warnings : 1"],
    ["Recommendations:", " * Increase QPS : now", "key : value"],
]


def _both(path: Path, monkeypatch: pytest.MonkeyPatch):
    """The file parsed whole, then streamed line by line (as files over 1 MB are)."""
    fast = parse_summary(path)
    with monkeypatch.context() as patch:
        patch.setattr(summary_module, "read_small_text", lambda *args: None)
        slow = parse_summary(path)
    return fast, slow


def _assert_same(fast, slow, label) -> None:
    assert [p.model_dump() for p in fast.problems] == [p.model_dump() for p in slow.problems], label
    if fast.model is None:
        assert slow.model is None, label
        return
    assert fast.model.model_dump() == slow.model.model_dump(), label
    assert fast.model.model_fields_set == slow.model.model_fields_set, label


def _write(tmp_path: Path, lines: list[str], newline: str = "\n", final: bool = True) -> Path:
    path = tmp_path / "mlperf_log_summary.txt"
    path.write_bytes((newline.join(lines) + (newline if final else "")).encode())
    return path


@pytest.mark.parametrize("round_name", ROUNDS)
def test_whole_file_and_streamed_summaries_agree_on_the_corpus(corpus, round_name, monkeypatch):
    root = corpus(round_name)
    for path in sorted(root.rglob("mlperf_log_summary.txt")):
        fast, slow = _both(path, monkeypatch)
        _assert_same(fast, slow, path)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("place", sorted(PLACES))
def test_whole_file_and_streamed_summaries_agree_on_tricky_lines(tmp_path, monkeypatch, place, newline):
    at = PLACES[place]
    for line in TRICKY:
        path = _write(tmp_path, [*MODERN[:at], line, *MODERN[at:]], newline)
        _assert_same(*_both(path, monkeypatch), (place, line))
    for block in FREE_TEXT:
        path = _write(tmp_path, [*MODERN[:at], *block, "Bar : baz", "", "Baz : qux", *MODERN[at:]], newline)
        _assert_same(*_both(path, monkeypatch), (place, block))


@pytest.mark.parametrize("final", [True, False])
def test_whole_file_and_streamed_summaries_agree_on_cut_files(tmp_path, monkeypatch, final):
    text = "\n".join(MODERN)
    for end in range(0, len(text) + 1, 7):
        path = _write(tmp_path, [text[:end]], final=final)
        _assert_same(*_both(path, monkeypatch), end)


def test_odd_summary_values_and_line_numbers(tmp_path, monkeypatch):
    """What both paths must find, not only agree on: a CRLF file with a NUL, a no-break space, a
    warning block and a 2019 statistics block title."""
    lines = [*MODERN[:5], "Scenario : Offline\x00", "SUT name :\u00a0S\u00a0", *MODERN[5:15],
             "Mean latency (ns) : -1.5e3", *MODERN[15:17], "Per-sample latency:", "Mean latency (ns) : 12", "",
             "WARNING : careful", "Foo : bar", "", "Max latency (ns) : n/a", *MODERN[17:], "a\tb : c"]
    path = _write(tmp_path, lines, "\r\n")
    fast, slow = _both(path, monkeypatch)
    _assert_same(fast, slow, "odd")
    model = fast.model
    assert model.scenario.value == "Offline" and model.scenario.line == 6
    assert model.sut_name.value == "S" and model.sut_name.line == 7
    assert model.stats["per_sample"].values["Mean latency (ns)"].line == 22
    assert [(note.value, note.line) for note in model.notes] == [("WARNING : careful", 24), ("Foo : bar", 25)]
    assert "Foo" not in model.fields
    assert model.fields["Max latency (ns)"].value == "n/a" and "Max latency (ns)" not in model.stats["per_sample"].values
    assert model.stats["main"].values["Mean latency (ns)"].value == -1.5e3
    assert model.parameter("target_qps").value == "437.417"
    assert [(p.code, p.line) for p in fast.problems] == [("syntax", len(lines))]


def test_plain_lines_never_reach_feed(tmp_path, monkeypatch):
    """The whole-file path is taken and reads a plain summary without feed (else it is no faster);
    an unusual line, and only that one, still goes to feed with its own line number."""
    seen: list[int] = []
    feed = summary_module._State.feed

    def counting(self, lineno, text, sink):
        seen.append(lineno)
        feed(self, lineno, text, sink)

    monkeypatch.setattr(summary_module._State, "feed", counting)
    result = parse_summary(_write(tmp_path, MODERN))
    assert result.problems == [] and result.model.headline.value == 381.124
    assert seen == []
    parse_summary(_write(tmp_path, [*MODERN[:20], "qps : 1\x00", "Durée : 5", *MODERN[20:]]))
    assert seen == [21, 22]


@pytest.mark.parametrize("text", ["", "\n", "\n\n", "a", "a\n", "a : b\n\n", "\r\n", "x : 1\r\ny\r\n\r\n"])
def test_one_row_per_line(text):
    """The line numbers of the whole-file path are row indices: findall must give a row for every
    piece text.split gives (the last, empty one after a final newline included)."""
    assert len(summary_module._ROWS.findall(text)) == len(text.split("\n"))


def _assert_rows_by_line(text: str) -> None:
    """The rows made line by line (cold, then from the line cache) are those findall gives."""
    expected = summary_module._ROWS.findall(text)
    summary_module._ROW_CACHE.clear()
    assert summary_module._rows(text) == expected, text
    assert summary_module._rows(text) == expected, text


@pytest.mark.parametrize("round_name", ROUNDS)
def test_rows_by_line_agree_with_findall_on_the_corpus(corpus, round_name):
    for path in sorted(corpus(round_name).rglob("mlperf_log_summary.txt")):
        _assert_rows_by_line(path.read_text(errors="replace"))


def test_rows_by_line_agree_with_findall_on_tricky_lines():
    """Above all the footer-count lookahead, the one part of _ROWS that can look past a newline."""
    text = "\n".join(MODERN)
    for line in [*TRICKY, "No", "No \t", "12", "3\x0b", "No\x1c", "no\r", "7 ", "No:", "1 : x", "No warning : x"]:
        for after in ["warning : x", "ERRORS: y", "Warning", " error : z", ""]:
            _assert_rows_by_line(f"{line}\n{after}\n{text}")
            _assert_rows_by_line(f"{text}\n{line}\r\n{after}")


@given(st.lists(st.sampled_from(["No", "no", "12", " ", "\t", "\r", "\n", "\x0b", "\x1c", "\x85", "\u2028", "\x00",
                                 ":", " : ", "=", "warning", "ERROR", "key", "a b", "Durée", "*", "WARNING"]),
                max_size=30).map("".join))
@settings(max_examples=400, deadline=None)
def test_rows_by_line_agree_with_findall_on_any_text(text):
    _assert_rows_by_line(text)


def test_row_cache_stays_bounded(monkeypatch):
    monkeypatch.setattr(summary_module, "_ROW_CACHE_SIZE", 4)
    summary_module._ROW_CACHE.clear()
    lines = [f"k{i} : {i}" for i in range(10)] + ["x" * (summary_module._ROW_CACHE_LINE + 1) + " : long"]
    assert summary_module._rows("\n".join(lines)) == summary_module._ROWS.findall("\n".join(lines))
    assert len(summary_module._ROW_CACHE) <= 4
    assert all(len(line) <= summary_module._ROW_CACHE_LINE for line in summary_module._ROW_CACHE)
    summary_module.clear_caches()
    assert not summary_module._ROW_CACHE


def test_isdecimal_is_a_subset_of_the_number_pattern():
    """feed_text takes a statistic as a number when str.isdecimal holds before trying _NUMBER: every
    character isdecimal accepts must be one _NUMBER (and float) accepts."""
    decimals = [chr(code) for code in range(0x110000) if chr(code).isdecimal()]
    assert all(summary_module._NUMBER.match(char) for char in decimals)
    assert float("\u0661\u0662") == 12.0 and all(float(char) >= 0 for char in decimals)
