"""Property-based tests of every parser in ``checker.parse.kinds.PARSERS``.

Two properties, for each kind of file the checker reads:

* **never raise**: any bytes at all (random, or random text in the neighbourhood of the format:
  the right first line followed by anything), and any kind of path that is not a plain file (a
  directory, a FIFO, a dangling symlink, a symlink loop), give a :class:`ParseResult` whose model
  serialises; nothing raises and nothing blocks. The list of kinds is read from ``PARSERS`` at
  collection time, so a parser added later is covered without touching this file.
* **round trip**: a valid file generated from a random model (MLLOG and 2019 detail records,
  summaries, LoadGen configs, system and measurements JSON, accuracy logs, accuracy.txt lines,
  verification outputs) parses back to that model, values and lines alike.

tests/test_parse_conf.py and tests/test_parse_system_json.py already fuzz their parsers with
format-specific alphabets; the generic tests here add the other kinds and the non-file paths.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import string
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from checker.parse.base import ParseResult
from checker.parse.kinds import PARSERS, parser_for

#: examples per property; raise it for a long hunt (MLPERF_AUDIT_HYPOTHESIS_EXAMPLES=2000)
SETTINGS = settings(max_examples=int(os.environ.get("MLPERF_AUDIT_HYPOTHESIS_EXAMPLES", "60")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

#: a plausible first line per kind, so random continuations reach past format detection
FORMAT_HEADS = {
    "loadgen_summary": "================================================\nMLPerf Results Summary\n",
    "loadgen_detail": ':::MLLOG {"key": "loadgen_version", "value": "4.0", "time_ms": 0.1, ',
    "accuracy_log": '[\n{ "seq_id" : 0, "qsl_idx" : 1, "data" : "',
    "accuracy_txt": "accuracy=76.",
    "conf": "*.Offline.target_qps = ",
    "system_json": '{"system_name": ',
    "measurements_json": '{"starting_weights_filename": ',
    "verify": "TEST PASS\n",
}


@contextmanager
def scratch() -> Iterator[Path]:
    """A fresh folder per hypothesis example (function-scoped fixtures do not reset between examples)."""
    with tempfile.TemporaryDirectory(prefix="prop-") as folder:
        yield Path(folder)


class Blocked(BaseException):
    """Raised by the alarm; a BaseException so that no ``except OSError``/``Exception`` in a parser
    (a TimeoutError is an OSError) can swallow it and turn a hang into a plausible result."""


@contextmanager
def deadline(seconds: int = 10) -> Iterator[None]:
    def ring(signum: int, frame: object) -> None:
        raise Blocked(f"parser blocked for {seconds} s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def parse(kind: str, path: Path, root: Path) -> ParseResult:
    with deadline():
        result = parser_for(kind)(path, root=root)
    assert isinstance(result, ParseResult)
    json.dumps(result.model_dump(mode="json"), default=str)  # what `parse --format json` prints
    for problem in result.problems:
        assert problem.message
    return result


def file_name(kind: str) -> str:
    return {
        "loadgen_summary": "mlperf_log_summary.txt",
        "loadgen_detail": "mlperf_log_detail.txt",
        "accuracy_log": "mlperf_log_accuracy.json",
        "accuracy_txt": "accuracy.txt",
        "conf": "user.conf",
        "system_json": "system.json",
        "measurements_json": "measurements.json",
        "verify": "verify_performance.txt",
    }.get(kind, f"{kind}.txt")


# ------------------------------------------------------------------------------------------------
# Never raise


@pytest.mark.parametrize("kind", sorted(PARSERS))
@SETTINGS
@given(data=st.binary(max_size=2048))
def test_arbitrary_bytes_never_raise(kind, data):
    with scratch() as folder:
        path = folder / file_name(kind)
        path.write_bytes(data)
        parse(kind, path, folder)


@pytest.mark.parametrize("kind", sorted(PARSERS))
@SETTINGS
@given(tail=st.text(max_size=400) | st.binary(max_size=400).map(lambda b: b.decode("latin-1")),
       cut=st.integers(min_value=0, max_value=200))
def test_format_head_then_anything_never_raises(kind, tail, cut):
    """The right start and then anything, also cut short: gets past every parser's format sniffing."""
    head = FORMAT_HEADS.get(kind, "")
    text = head[: len(head) - cut % (len(head) + 1)] + tail
    with scratch() as folder:
        path = folder / file_name(kind)
        path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
        parse(kind, path, folder)


@pytest.mark.parametrize("what", ["missing", "directory", "fifo", "dangling", "loop"])
@pytest.mark.parametrize("kind", sorted(PARSERS))
def test_paths_that_are_not_files(tmp_path, kind, what):
    """No parser raises or blocks on a path that is not a regular file (a FIFO would block a reader
    forever: parsers check before opening)."""
    path = tmp_path / file_name(kind)
    if what == "directory":
        path.mkdir()
    elif what == "fifo":
        os.mkfifo(path)
    elif what == "dangling":
        os.symlink(tmp_path / "nowhere", path)
    elif what == "loop":
        os.symlink(path.name, path)
    with deadline(3):
        result = parse(kind, path, tmp_path)
    assert result.model is None or not result.ok
    assert result.problems, f"{kind} on a {what}: no problem reported"


# ------------------------------------------------------------------------------------------------
# Round trips: LoadGen detail logs

_IDENT = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=24)
_SPECIAL_DETAIL_KEYS = {"loaded_qsl_set", "loadgen_file_sha1"}
_JSON_SCALAR = (st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40))
_JSON_VALUE = st.recursive(_JSON_SCALAR, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


def mllog_line(key: str, value: object, is_error: bool, is_warning: bool) -> str:
    """A record exactly as LoadGen writes it."""
    record = {"key": key, "value": value, "time_ms": 12.345, "namespace": "mlperf::logging",
              "event_type": "POINT_IN_TIME",
              "metadata": {"is_error": is_error, "is_warning": is_warning, "file": "loadgen.cc", "line_no": 7,
                           "pid": 11, "tid": 12}}
    return ":::MLLOG " + json.dumps(record)


@st.composite
def mllog_records(draw) -> list[tuple[str, object, bool, bool]]:
    keys = draw(st.lists(_IDENT | st.text(min_size=1, max_size=12), min_size=1, max_size=25, unique=True))
    records = []
    for key in keys:
        assume(key not in _SPECIAL_DETAIL_KEYS)
        flag = draw(st.sampled_from(["none", "error", "warning"]))
        records.append((key, draw(_JSON_VALUE), flag == "error", flag == "warning"))
    return records


@SETTINGS
@given(records=mllog_records(), crlf=st.booleans(), streaming=st.booleans())
def test_mllog_detail_round_trip(records, crlf, streaming):
    from checker.parse import loadgen_detail

    lines = [mllog_line(*record) for record in records]
    newline = "\r\n" if crlf else "\n"
    with scratch() as folder:
        path = folder / "mlperf_log_detail.txt"
        path.write_bytes((newline.join(lines) + newline).encode())
        with mock.patch.object(loadgen_detail, "read_small_text", return_value=None) if streaming \
                else _no_patch():
            result = parse("loadgen_detail", path, folder)
    model = result.model
    assert model is not None and model.format == "mllog"
    assert result.problems == []
    for number, (key, value, _, _) in enumerate(records, start=1):
        entry = model.entries[key]
        assert (entry.value, entry.line, entry.count) == (value, number, 1)
    assert [(m.key, m.line) for m in model.errors] == [(k, n) for n, (k, _, e, _) in enumerate(records, 1) if e]
    assert [(m.key, m.line) for m in model.warnings] == \
        [(k, n) for n, (k, _, e, w) in enumerate(records, 1) if w and not e]
    assert model.error_count == sum(1 for r in records if r[2])
    assert model.line_count == len(records)


@contextmanager
def _no_patch() -> Iterator[None]:
    yield


_SETTING_NAME = st.from_regex(r"[a-z][a-z ]{0,20}[a-z]", fullmatch=True).filter(
    lambda n: n not in ("scenario", "test mode") and "  " not in n and not n.startswith(("error", "warning")))
_SETTING_VALUE = st.text(alphabet=string.ascii_letters + string.digits + " ._-:/()", max_size=30).map(str.strip)


@SETTINGS
@given(settings_=st.dictionaries(_SETTING_NAME, _SETTING_VALUE, min_size=1, max_size=15),
       version=st.from_regex(r"\.5a1 @ [0-9a-f]{10}", fullmatch=True))
def test_text2019_detail_round_trip(settings_, version):
    """The v0.5/v0.7 text format: a version record and an Effective Settings block."""
    from checker.parse.loadgen_detail import _settings_key

    names = {}
    for name in settings_:
        names.setdefault(_settings_key(name), name)
    assume(len(names) == len(settings_))
    prefix = '"pid": 4242, "tid": 4243, "ts": {}ns : '
    lines = [prefix.format(1) + f"version : {version}", prefix.format(2) + "Effective Settings:"]
    for number, (name, value) in enumerate(settings_.items(), start=3):
        lines.append(prefix.format(number) + f"{name} : {value}")
    lines.append(prefix.format(99))
    with scratch() as folder:
        path = folder / "mlperf_log_detail.txt"
        path.write_text("\n".join(lines) + "\n")
        result = parse("loadgen_detail", path, folder)
    model = result.model
    assert model is not None and model.format == "text2019"
    assert model.loadgen_version == version
    assert model.entries["loadgen_version"].line == 1
    for number, (name, value) in enumerate(settings_.items(), start=3):
        entry = model.entries[f"effective_{_settings_key(name)}"]
        assert (entry.value, entry.line) == (value, number)


# ------------------------------------------------------------------------------------------------
# Summaries

_SCENARIOS = {"SingleStream": "Single Stream", "MultiStream": "Multi Stream", "Server": "Server",
              "Offline": "Offline"}
_PARAM_NAME = st.from_regex(r"[a-z][a-z_]{0,24}", fullmatch=True)
_NUMBER_TEXT = st.one_of(st.integers(min_value=0, max_value=10**12).map(str),
                         st.floats(min_value=0, max_value=1e9, allow_nan=False).map(lambda f: f"{f:.6g}"))


@SETTINGS
@given(scenario=st.sampled_from(sorted(_SCENARIOS)), spaced=st.booleans(), valid=st.booleans(),
       headline=_NUMBER_TEXT, latencies=st.lists(_NUMBER_TEXT, min_size=3, max_size=3),
       parameters=st.dictionaries(_PARAM_NAME, _NUMBER_TEXT, max_size=12), warnings=st.integers(0, 5),
       errors=st.integers(0, 5))
def test_summary_round_trip(scenario, spaced, valid, headline, latencies, parameters, warnings, errors):
    """A summary in LoadGen's layout (2019 spaced scenario names or current) parses back to its fields."""
    shown = _SCENARIOS[scenario] if spaced else scenario
    lines = ["================================================", "MLPerf Results Summary",
             "================================================", "SUT name : my-sut",
             f"Scenario : {shown}", "Mode     : PerformanceOnly", f"Samples per second : {headline}",
             f"Result is : {'VALID' if valid else 'INVALID'}", "  Min duration satisfied : Yes",
             "  Early stopping satisfied: Yes", "", "================================================",
             "Additional Stats", "================================================"]
    for pct, value in zip(("50.00", "90.00", "99.00"), latencies, strict=True):
        lines.append(f"{pct} percentile latency (ns)   : {value}")
    lines += ["", "================================================", "Test Parameters Used",
              "================================================"]
    lines += [f"{name} : {value}" for name, value in parameters.items()]
    lines += ["", f"{warnings or 'No'} warning{'s' if warnings != 1 else ''} encountered during test.", "",
              f"{errors or 'No'} {'ERROR' if errors else 'errors'}{'S' if errors > 1 else ''} encountered during test."]
    with scratch() as folder:
        path = folder / "mlperf_log_summary.txt"
        path.write_text("\n".join(lines) + "\n")
        result = parse("loadgen_summary", path, folder)
    model = result.model
    assert result.problems == [], result.problems
    assert model.scenario.value == scenario and model.scenario.line == 5
    assert model.mode.value == "PerformanceOnly"
    assert (model.validity.value, model.validity.line) == ("VALID" if valid else "INVALID", 8)
    assert model.headline.label == "Samples per second" and model.headline.value == float(headline)
    for pct, value in zip((50.0, 90.0, 99.0), latencies, strict=True):
        assert model.stats["main"].percentile(pct).value == float(value)
    assert {k: v.value for k, v in model.test_parameters.items()} == parameters
    assert model.warning_count.value == warnings and model.error_count.value == errors
    assert model.generation == ("2019" if spaced and " " in shown else "current")


# ------------------------------------------------------------------------------------------------
# LoadGen configs

_CONF_KEYS = ["target_qps", "target_latency", "min_duration", "max_duration", "min_query_count",
              "performance_sample_count_override", "samples_per_query", "target_latency_percentile"]


@SETTINGS
@given(assignments=st.lists(st.tuples(st.sampled_from(["*", "resnet50", "bert-99", "gpt-j"]),
                                      st.sampled_from(["*", "Offline", "Server", "SingleStream", "MultiStream"]),
                                      st.sampled_from(_CONF_KEYS),
                                      st.integers(min_value=0, max_value=10**9)),
                            min_size=1, max_size=20),
       comments=st.booleans())
def test_conf_round_trip(assignments, comments):
    lines = ["# generated"] if comments else []
    first = len(lines) + 1
    for model, scenario, key, value in assignments:
        lines.append(f"{model}.{scenario}.{key} = {value}")
        if comments:
            lines.append("")
    with scratch() as folder:
        path = folder / "user.conf"
        path.write_text("\n".join(lines) + "\n")
        result = parse("conf", path, folder)
    conf = result.model
    assert conf is not None and not conf.loadgen_rejects_file
    step = 2 if comments else 1
    got = [(e.model, e.scenario, e.key, e.number, e.line) for e in conf.entries]
    want = [(m, s, k, v, first + i * step) for i, (m, s, k, v) in enumerate(assignments)]
    assert got == want
    last = {f"{m}.{s}.{k}": v for m, s, k, v in assignments}  # the last assignment of a key wins, as in LoadGen
    assert {key: entry.number for key, entry in conf.stored().items()} == last


# ------------------------------------------------------------------------------------------------
# System description and measurements JSON


@pytest.mark.parametrize("kind", ["system_json", "measurements_json"])
@SETTINGS
@given(document=st.dictionaries(st.text(min_size=1, max_size=30), _JSON_VALUE, min_size=1, max_size=20),
       indent=st.sampled_from([2, 4]), ensure_ascii=st.booleans())
def test_json_round_trip_with_key_lines(kind, document, indent, ensure_ascii):
    text = json.dumps(document, indent=indent, ensure_ascii=ensure_ascii)
    with scratch() as folder:
        path = folder / file_name(kind)
        path.write_text(text + "\n", encoding="utf-8", errors="surrogatepass")
        result = parse(kind, path, folder)
    model = result.model
    assert model is not None
    assert model.to_plain() == document
    assert list(model.to_plain()) == list(document)  # file order
    # json.dumps with an indent writes each top-level key on its own line, in order: the first
    # key on line 2, and each next one after the lines of the previous value
    line = 2
    for key, value in document.items():
        assert model.line_of(key) == line, key
        line += json.dumps({key: value}, indent=indent, ensure_ascii=ensure_ascii).count("\n") - 1
    assert model.duplicate_keys == {}


# ------------------------------------------------------------------------------------------------
# Accuracy logs


@st.composite
def accuracy_entries(draw) -> list[tuple[int, int, bytes]]:
    count = draw(st.integers(min_value=0, max_value=40))
    qsl = draw(st.lists(st.integers(min_value=0, max_value=10**6), min_size=count, max_size=count))
    payload = st.binary(min_size=0, max_size=64)
    return [(seq, q, draw(payload)) for seq, q in enumerate(qsl)]


def loadgen_accuracy_log(entries: list[tuple[int, int, bytes]]) -> bytes:
    """The layout LoadGen writes: one entry per line, upper-case hex."""
    body = ",\n".join(f'{{ "seq_id" : {s}, "qsl_idx" : {q}, "data" : "{d.hex().upper()}" }}' for s, q, d in entries)
    return ("[\n" + body + ("\n" if entries else "") + "]\n").encode()


@SETTINGS
@given(entries=accuracy_entries(), pretty=st.booleans())
def test_accuracy_log_round_trip(entries, pretty):
    from checker.parse.accuracy_log import iter_entries

    if pretty:  # another writer: json.dumps with an indent, lower-case hex
        raw = json.dumps([{"seq_id": s, "qsl_idx": q, "data": d.hex()} for s, q, d in entries], indent=2).encode()
    else:
        raw = loadgen_accuracy_log(entries)
    with scratch() as folder:
        path = folder / "mlperf_log_accuracy.json"
        path.write_bytes(raw)
        result = parse("accuracy_log", path, folder)
        back = [(e.seq_id, e.qsl_idx, e.data) for e in iter_entries(path)]
    log = result.model
    assert log is not None and log.complete_json and not log.partial
    assert log.sha256 == hashlib.sha256(raw).hexdigest()
    assert log.entry_count == len(entries) and log.bad_entry_count == 0
    assert log.seq_id.tolist() == [s for s, _, _ in entries]
    assert log.qsl_idx.tolist() == [q for _, q, _ in entries]
    assert log.payload_sizes.tolist() == [len(d) for _, _, d in entries]
    assert log.unique_qsl_count == len({q for _, q, _ in entries})
    assert back == entries


# ------------------------------------------------------------------------------------------------
# accuracy.txt and verification outputs


@SETTINGS
@given(value=st.floats(min_value=0, max_value=100, allow_nan=False).map(lambda f: round(f, 3)),
       good=st.integers(0, 50000), total=st.integers(1, 50000), digest=st.binary(min_size=32, max_size=32),
       chatter=st.lists(st.text(alphabet=string.ascii_letters + " ,", max_size=40), max_size=4))
def test_accuracy_txt_round_trip(value, good, total, digest, chatter):
    """The classification script's output: tool chatter, the accuracy line, the hash line."""
    lines = [*chatter, f"accuracy={value:.3f}%, good={good}, total={total}", f"hash={digest.hex()}"]
    with scratch() as folder:
        path = folder / "accuracy.txt"
        path.write_text("\n".join(lines) + "\n")
        result = parse("accuracy_txt", path, folder)
    model = result.model
    line = len(chatter) + 1
    record = model.last("acc")
    assert record is not None and (record.value, record.line, record.at_line_start) == (float(f"{value:.3f}"), line, True)
    assert [(c.good, c.total, c.line) for c in model.counts] == [(good, total, line)]
    assert model.hash is not None and (model.hash.value, model.hash.line) == (digest.hex(), line + 1)
    assert model.hash.well_formed and model.hash.exact_line and not model.has_fused_hash


@SETTINGS
@given(passed=st.booleans(),
       figures=st.dictionaries(st.sampled_from(["reference score", "performance score", "accuracy score",
                                                "first token check", "sample count"]),
                               st.floats(min_value=0, max_value=1e7, allow_nan=False).map(lambda f: round(f, 2)),
                               max_size=4))
def test_verify_round_trip(passed, figures):
    lines = ["Verifying performance."]
    lines += [f"{name} = {value}" for name, value in figures.items()]
    lines.append("TEST PASS" if passed else "TEST FAIL")
    with scratch() as folder:
        path = folder / "verify_performance.txt"
        path.write_text("\n".join(lines) + "\n")
        result = parse("verify", path, folder)
    model = result.model
    assert model.verdict is not None
    assert (model.verdict.value, model.verdict.line) == ("PASS" if passed else "FAIL", len(lines))
    for number, (name, value) in enumerate(figures.items(), start=2):
        figure = model.figure(name)
        assert figure is not None and (figure.value, figure.line) == (value, number), name


# ------------------------------------------------------------------------------------------------
# Sample sets cut out of the text the whole-file regex reads (loadgen_detail._cut_sample_sets)

_SET = st.lists(st.integers(min_value=0, max_value=99999), max_size=12).map(lambda v: ",".join(map(str, v)))
_ODD = st.sampled_from(["", "\x00", "\x01", "]", "[", ",", " ", "\r", '"', "x"])


@st.composite
def _set_lines(draw, fmt: str) -> list[str]:
    """Lines of one format around sample sets: well-formed and broken, long (cut) and short."""
    lines = []
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        numbers = draw(_SET)
        odd, where = draw(_ODD), draw(st.sampled_from(["set", "tail", "head", "none"]))
        inner = numbers + odd if where == "set" else numbers
        if fmt == "mllog":
            line = mllog_line("loaded_qsl_set", [], False, False).replace("[]", f"[{inner}]", 1)
            shape = draw(st.sampled_from(["record", "other key", "indented"]))
            if shape == "other key":
                line = mllog_line("generated_query_count", 5, False, False)
            elif shape == "indented":
                line = " " + line
        else:
            line = f'"pid": 7, "tid": 7, "ts": 1ns : Loading QSL : "set" : "[{inner}]"'
            if draw(st.booleans()):
                line = f'"pid": 7, "tid": 7, "ts": 2ns : {draw(_SETTING_NAME)} : {draw(_SETTING_VALUE)}'
        if where == "tail":
            line += odd
        elif where == "head":
            line = odd + line
        lines.append(line)
    return lines


@SETTINGS
@given(fmt=st.sampled_from(["mllog", "text2019"]), data=st.data(), crlf=st.booleans())
def test_cut_sample_sets_read_as_the_streamed_lines(fmt, data, crlf):
    """With every set long enough to be cut, the whole-file read gives the model and problems the
    line-by-line reader gives, whatever odd byte sits in or around a set."""
    from checker.parse import loadgen_detail

    head = (mllog_line("loadgen_version", "4.1", False, False) if fmt == "mllog"
            else '"pid": 7, "tid": 7, "ts": 1ns : version : .5a1 @ 6958607d52')
    lines = [head, *data.draw(_set_lines(fmt))]
    with scratch() as folder:
        path = folder / "mlperf_log_detail.txt"
        path.write_bytes(("\r\n" if crlf else "\n").join(lines).encode())
        with mock.patch.object(loadgen_detail, "CUT_MIN_CHARS", 0):
            loadgen_detail.clear_caches()
            whole = parse("loadgen_detail", path, folder)
        with mock.patch.object(loadgen_detail, "read_small_text", return_value=None):
            loadgen_detail.clear_caches()
            streamed = parse("loadgen_detail", path, folder)
    assert [p.model_dump() for p in whole.problems] == [p.model_dump() for p in streamed.problems]
    assert (whole.model is None) == (streamed.model is None)
    if whole.model is not None:
        assert whole.model.model_dump() == streamed.model.model_dump()


@SETTINGS
@given(lines=st.lists(st.text(alphabet=" \t\r\f\v\x1c\x85\xa0\u3000ab", max_size=6), max_size=8))
def test_non_blank_lines_counted_once_each(lines):
    """The SHA-1 table check counts the lines holding a non-blank character, one match per line
    (the pattern runs on to the line's end so the search skips the rest of the line); blank as the
    line-by-line reader has it (str.strip), so that a table row after an odd space is not skipped."""
    from checker.parse.loadgen_detail import _NON_BLANK_LINE

    expected = sum(1 for line in lines if line.strip())
    assert len(_NON_BLANK_LINE.findall("\n".join(lines))) == expected
