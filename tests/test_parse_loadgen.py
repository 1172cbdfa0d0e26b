"""Summary and detail log parsers: the whole corpus, fresh real-LoadGen logs, and broken input."""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus_cache import ROUNDS
from loadgen_runs import mllog_values

from checker.parse.base import ParseResult
from checker.parse.loadgen_detail import parse_detail
from checker.parse.loadgen_summary import parse_summary

CANONICAL = {"SingleStream", "MultiStream", "Server", "Offline", "Interactive"}


@pytest.mark.parametrize("round_name", ROUNDS)
def test_every_corpus_summary_and_detail_parses(corpus, round_name):
    root = corpus(round_name)
    summaries = sorted(root.rglob("mlperf_log_summary.txt"))
    details = sorted(root.rglob("mlperf_log_detail.txt"))
    assert summaries and details
    for path in summaries:
        result = parse_summary(path, root)
        if result.model is None:
            assert result.problems, path  # unusable file: a structured problem, never silence
            continue
        model = result.model
        assert model.footer_only or model.scenario is None or model.scenario.value in CANONICAL
    for path in details:
        result = parse_detail(path, root)
        assert result.model is not None or result.problems, path
        if result.model is not None and result.model.format == "mllog":
            assert result.model.entries, path


def test_v05_text_detail_log_values_and_lines(corpus):
    root = corpus("v0.5")
    path = root / "closed/Alibaba/results/alibaba_HanGuang/resnet/Offline/performance/run_1/mlperf_log_detail.txt"
    model = parse_detail(path, root).model
    assert model.format == "text2019"
    assert model.loadgen_version == ".5a1 @ 71940a7a4c" and model.git_commit == "71940a7a4c"
    assert model.get("loadgen_version").line == 2
    assert model.integer("effective_qsl_rng_seed").value == 3133965575612453542
    assert model.value("effective_scenario") == "Offline"
    assert model.value("effective_test_mode") == "PerformanceOnly"
    assert model.integer("effective_samples_per_query").value == 4554000
    assert model.integer("requested_min_query_count").value == 4500000
    assert model.file_sha1["/loadgen.cc"] == "19242fc8e0f9e3eaf8bec9964ba33d760eeade96"
    assert model.error_count == 1 and model.errors[0].line == 119
    assert "Ran out of generated queries" in model.errors[0].text
    assert model.warning_count == 3
    assert len(model.int_list("loaded_qsl_set")) == 1600 and model.get("loaded_qsl_set").line > 0


def test_v05_multistream_summary_blocks(corpus):
    root = corpus("v0.5")
    path = next(root.glob("closed/*/results/*/*/MultiStream/performance/run_1/mlperf_log_summary.txt"))
    model = parse_summary(path, root).model
    assert model.generation == "2019" and model.scenario.value == "MultiStream"
    assert model.headline.label == "Samples per query"
    assert {"per_query", "per_sample"} <= set(model.stats)
    assert model.parameter("samples_per_query") is not None


def test_v41_early_stopping_summary(corpus):
    root = corpus("v4.1")
    path = root / "open/Krai/results/7920t-kilt-onnxruntime_gpu/resnet50/singlestream/performance/run_1/mlperf_log_summary.txt"
    model = parse_summary(path, root).model
    assert model.generation == "current"
    assert model.headline.value == 4434727 and model.headline.line == 7
    assert model.early_stopping_estimates["90.0"].value == 4435463
    assert model.satisfied["Early stopping satisfied"].value is True
    assert model.error_count.value == 0 and model.warning_count.value == 0


# -- fresh logs from the real LoadGen -------------------------------------------------------------
def test_real_loadgen_logs(loadgen_logs):
    for (scenario, mode), folder in loadgen_logs.folders.items():
        spec = loadgen_logs.specs[(scenario, mode)]
        detail = parse_detail(folder / "mlperf_log_detail.txt")
        assert detail.problems == [], detail.problems
        model = detail.model
        assert model.format == "mllog"
        assert model.value("effective_scenario") == scenario
        assert model.value("effective_test_mode") == mode
        assert model.integer("effective_qsl_rng_seed").value == spec.qsl_rng_seed
        assert model.integer("effective_sample_index_rng_seed").value == spec.sample_index_rng_seed
        assert model.integer("effective_schedule_rng_seed").value == spec.schedule_rng_seed
        assert model.loadgen_version.startswith("6.0")
        assert len(model.file_sha1) > 10
        # the parser agrees with an independent minimal reader on every key's first value
        raw = mllog_values(folder / "mlperf_log_detail.txt")
        for key in ("qsl_reported_total_count", "effective_performance_sample_count", "effective_min_duration_ms"):
            assert model.value(key) == raw[key]
        summary = parse_summary(folder / "mlperf_log_summary.txt")
        assert summary.problems == []
        if mode == "AccuracyOnly":
            assert summary.model.footer_only
            continue
        assert summary.model.scenario.value == scenario
        assert summary.model.mode.value == "PerformanceOnly"
        assert summary.model.validity.value == "VALID" == model.value("result_validity")
        assert summary.model.parameter_number("qsl_rng_seed").value == pytest.approx(spec.qsl_rng_seed)


# -- broken input --------------------------------------------------------------------------------
BROKEN = {
    "empty": b"",
    "binary": bytes(range(256)) * 40,
    "non_utf8": b":::MLLOG {\"key\": \"x\xff\xfe\", \"value\": 1}\n",
    "truncated_mllog": b':::MLLOG {"key": "result_validity", "value": "VAL',
    "huge_line": b":::MLLOG " + b"9" * (10 * 1024 * 1024) + b"\n",
}


@pytest.mark.parametrize("name", sorted(BROKEN))
@pytest.mark.parametrize("parser", [parse_summary, parse_detail])
def test_broken_input_is_a_problem_not_an_exception(tmp_path: Path, parser, name):
    path = tmp_path / "mlperf_log_detail.txt"
    path.write_bytes(BROKEN[name])
    result = parser(path, tmp_path)
    assert result.problems, name
    assert all(p.path == "mlperf_log_detail.txt" for p in result.problems)


def test_huge_line_is_skipped_with_its_line_number(tmp_path):
    path = tmp_path / "mlperf_log_detail.txt"
    good = ':::MLLOG {"key": "sut_name", "value": "S", "metadata": {"is_error": false}}\n'
    path.write_bytes(good.encode() + b":::MLLOG " + b"x" * (10 * 1024 * 1024) + b"\n" + good.encode())
    result = parse_detail(path)
    assert result.model.value("sut_name") == "S"
    assert any(p.code == "line_too_long" and p.line == 2 for p in result.problems)


def test_missing_file_and_directory(tmp_path):
    assert parse_detail(tmp_path / "absent.txt").problems[0].code == "unreadable"
    assert parse_summary(tmp_path).problems


def whole_and_streamed(path: Path, monkeypatch) -> ParseResult:
    """The detail log at ``path`` parsed whole (one regex) and streamed (line by line), each with cold
    caches; asserts that both give the same model and problems and returns the whole-file parse."""
    import checker.parse.loadgen_detail as detail_module

    detail_module.clear_caches()
    fast = parse_detail(path)
    with monkeypatch.context() as patched:
        patched.setattr(detail_module, "read_small_text", lambda *args: None)
        detail_module.clear_caches()
        slow = parse_detail(path)
    assert fast.model.model_dump() == slow.model.model_dump()
    assert [p.model_dump() for p in fast.problems] == [p.model_dump() for p in slow.problems]
    return fast


@pytest.mark.parametrize("round_name", ["v0.5", "v0.7", "v1.0"])
def test_whole_file_and_streaming_paths_agree(corpus, round_name, monkeypatch):
    """Small files are read whole by one regex (a row per line), big ones line by line: same model.
    The whole-file pass runs with the records remembered from every earlier file, the streamed one
    with none, so a wrong remembered record would show as a difference."""
    import checker.parse.loadgen_detail as detail_module

    root = corpus(round_name)
    paths = sorted(root.rglob("mlperf_log_detail.txt"))[::3]
    whole = {p: parse_detail(p, root) for p in paths}
    monkeypatch.setattr(detail_module, "read_small_text", lambda *args: None)
    for path in paths:
        detail_module.clear_caches()  # each streamed file cold: what earlier files taught must not matter
        streamed = parse_detail(path, root)
        fast = whole[path]
        assert [p.model_dump() for p in fast.problems] == [p.model_dump() for p in streamed.problems], path
        if fast.model is None:
            assert streamed.model is None
            continue
        assert fast.model.model_dump() == streamed.model.model_dump(), path


def test_whole_file_and_streaming_paths_agree_on_odd_lines(tmp_path, monkeypatch):

    record = ':::MLLOG {{"key": "{k}", "value": {v}, "time_ms": 0.1, "namespace": "mlperf::logging", ' \
             '"event_type": "POINT_IN_TIME", "metadata": {{"is_error": {e}, "is_warning": false, ' \
             '"file": "x.cc", "line_no": 1, "pid": 1, "tid": 1}}}}'
    lines = [
        record.format(k="sut_name", v='"PySUT"', e="false"),
        "",
        "garbage in the middle",
        record.format(k="note", v='"quote \\" and , \\"time_ms\\": 1"', e="false") + "\r",
        record.format(k="error_runtime", v='"boom"', e="true"),
        ':::MLLOG {"key": "broken", "value": [1, 2',
        record.format(k="loaded_qsl_set", v="[3, 1, 2]", e="false"),
    ]
    path = tmp_path / "mlperf_log_detail.txt"
    path.write_text("\n".join(lines))
    fast = whole_and_streamed(path, monkeypatch)
    model = fast.model
    assert model.value("note") == 'quote " and , "time_ms": 1' and model.get("note").line == 4
    assert model.errors[0].line == 5 and model.int_list("loaded_qsl_set") == [3, 1, 2]
    assert {p.line for p in fast.problems} == {3, 6}


def test_whole_file_and_streaming_paths_agree_on_value_types(tmp_path, monkeypatch):
    """The whole-file row gives a quiet record's value as one text whose first character tells its
    type; every value shape, and a list for any key but ``loaded_qsl_set`` (which takes the careful
    path, also when repeated or not JSON), comes out as line by line."""

    record = ':::MLLOG {{"key": "{k}", "value": {v}, "time_ms": 0.1, "namespace": "mlperf::logging", ' \
             '"event_type": "POINT_IN_TIME", "metadata": {{"is_error": false, "is_warning": false, ' \
             '"file": "x.cc", "line_no": 1, "pid": 1, "tid": 1}}}}'
    values = [("int", "42"), ("negative", "-7"), ("big", "7322528924094909334"), ("real", "-1.5e-3"),
              ("exponent", "2E5"), ("dot", "3."), ("digits", "\u0663\u0661"), ("empty", '""'), ("text", '"a b"'),
              ("true", "true"), ("false", "false"), ("null", "null"), ("list", "[1, 2]"), ("list", "[1, 2"),
              ("xloaded_qsl_set", "[4]"), ("bad", "[1,, 2]"), ("bad", "[1,, 2]"), ("loaded_qsl_set", "[5, 6]"),
              ("loaded_qsl_set", "[7]"), ("int", "43"), ("requested_x", "1"), ("requested_x", "2")]
    path = tmp_path / "mlperf_log_detail.txt"
    path.write_text("\n".join(record.format(k=k, v=v) for k, v in values))
    fast = whole_and_streamed(path, monkeypatch)
    model = fast.model
    assert [model.value(k) for k in ("negative", "big", "real", "exponent", "dot", "digits", "empty", "null")] == \
        [-7, 7322528924094909334, -1.5e-3, 2e5, 3.0, 31, "", None]
    assert model.value("list") == [1, 2] and model.value("xloaded_qsl_set") == [4]
    assert model.int_list("loaded_qsl_set") == [5, 6] and model.entries["loaded_qsl_set"].count == 2
    assert {p.line for p in fast.problems} == {14, 16, 17, 22}


def test_whole_file_and_streaming_paths_agree_on_odd_2019_text(tmp_path, monkeypatch):
    """The 2019 text with what real logs get wrong: CRLF, NUL bytes, a stray unprefixed line, a bad
    SHA-1 row, a sample set without brackets, a repeated once-only setting, many repeated phases."""

    def rec(body: str, ts: int = 1) -> str:
        return f'"pid": 7, "tid": 7, "ts": {ts}ns : {body}'

    phase = [rec("Loading QSL : \"set\" : \"[3,1,2]\""), rec('GeneratedQueries: "queries" : 64, '
             '"samples per query" : 1, "duration" : 5'), rec("Log Contention Counters:"),
             rec("0 : swap_request_slots_retry_count"), rec("")]
    lines = [
        rec("version : .5a1 @ 6958607d52"),
        rec("git_log :"), "6958607d52f646d61fb950341f523597482b10e3 Merge", "",
        rec("SHA1 of files :"), "", "012aad77e5206c89d50718c46c119d1f3cb056b2 /.clang-format",
        "not a sha1 row", "a3355ff8f163cabbf26adb86d3aa0e5da72900c7 /BUILD.gn\r", "",
        rec("Effective Settings:"), rec("Scenario : Offline"), rec("qsl_rng_seed : 12\x0034"),
        rec("target_qps : 10\r"), rec(""),
        rec("Requested Settings:"), rec("Scenario : Hyper Stream"), rec(""),
        "a stray line outside any record",
        rec("Loading QSL : no brackets here"),
        *phase * 5,
        rec("Effective Settings:"), rec("Scenario : Server"), rec(""),  # once-only, another value
        rec("ERROR : something broke"), rec("WARNING : careful"),
    ]
    path = tmp_path / "mlperf_log_detail.txt"
    path.write_bytes("\r\n".join(lines).encode())
    fast = whole_and_streamed(path, monkeypatch)
    model = fast.model
    assert model.format == "text2019" and model.entries["loaded_qsl_set"].count == 5
    assert model.int_list("loaded_qsl_set") == [3, 1, 2]
    assert model.file_sha1 == {"/.clang-format": "012aad77e5206c89d50718c46c119d1f3cb056b2",
                               "/BUILD.gn": "a3355ff8f163cabbf26adb86d3aa0e5da72900c7"}
    assert model.value("effective_qsl_rng_seed") == "1234" and model.value("effective_target_qps") == "10"
    assert model.value("generated_query_count") == 64 and model.entries["generated_query_count"].count == 5
    assert model.error_count == 1 and model.warning_count == 1
    codes = {(p.code, p.line) for p in fast.problems}
    assert ("syntax", 8) in codes  # the bad SHA-1 row
    assert ("syntax", 19) in codes  # the stray line
    assert ("syntax", 20) in codes  # the sample set without brackets
    assert ("unknown_value", 17) in codes  # Hyper Stream
    assert any(p.code == "repeated_key" and "effective_scenario" in p.message for p in fast.problems)


def test_repeated_phase_records_count_as_on_the_careful_path(tmp_path, monkeypatch):
    """Repeats of the 2019 phase records (power marks, sample sets, query counts) are only counted
    on the whole-file path; spellings and states it does not expect must come out as line by line:
    before a first value, in a settings block, inside a multi-line record, with NUL bytes, another
    spacing, no brackets, a count missing, trailing blanks."""

    def rec(body: str) -> str:
        return f'"pid": 7, "tid": 7, "ts": 1ns : {body}'

    queries = 'GeneratedQueries: "queries" : 64, "samples per query" : 1, "duration" : 5'
    odd = [
        'POWER_BEGIN: "mode" : Performance, "time" : 1', 'POWER_BEGIN : "mode" : x', "POWER_BEGIN:",
        'POWER_END: "time" : 2\x00', "Loading QSL : no brackets", 'Loading QSL : "set" : "]3["',
        'Loading QSL : "set" : "[1,\x002]"', 'Loading QSL : "set" : "[4,5]" ', queries, queries + "  ",
        queries.replace(" : 64", ": 64"),
        'GeneratedQueries: "queries" : 64', 'GeneratedQueries: "queries" : 64, "samples per query" : 1, '
        '"duration" : 5, "more" : 1', queries.replace("64", "6\x004"),
    ]
    lines = [rec("POWER_END: before any first value"), rec(queries), rec("Effective Settings:"),
             rec('POWER_BEGIN: "in" : "a block"'), rec(queries), rec(""),
             rec('Loading QSL : "set" : "[3,1,2]"'), rec("git_log :"), rec("POWER_BEGIN: ends the log"), "x",
             *[rec(body) for body in odd * 3]]
    path = tmp_path / "mlperf_log_detail.txt"
    path.write_bytes("\n".join(lines).encode())
    fast = whole_and_streamed(path, monkeypatch)
    entries = fast.model.entries
    assert entries["power_begin"].count == 2 + 3 * 3 and entries["power_end"].count == 1 + 3
    assert entries["loaded_qsl_set"].count == 1 + 2 * 3 and entries["generated_query_count"].count == 2 + 6 * 3
    assert entries["generated_samples_per_query"].count == 2 + 5 * 3


def test_git_log_lines_are_read_in_one_go_as_line_by_line(tmp_path, monkeypatch):
    """The unprefixed lines of a 2019 git log or status (CRs, blanks, a '"pid"' line that is no
    record, more text than the cap keeps) come out of the whole-file path as out of the streamed one."""
    import checker.parse.loadgen_detail as detail_module

    monkeypatch.setattr(detail_module, "MAX_MULTILINE_CHARS", 40)

    def rec(body: str) -> str:
        return f'"pid": 7, "tid": 7, "ts": 1ns : {body}'

    lines = [rec("git_log :"), "", "abc first\r", '"pid": not a record', "x" * 30, "short", rec("git_status :"),
             " M a.py", "", rec("version : .5a1 @ 6958607d52"), "stray"]
    path = tmp_path / "mlperf_log_detail.txt"
    path.write_text("\n".join(lines))
    fast = whole_and_streamed(path, monkeypatch)
    assert fast.model.value("loadgen_git_log_message") == 'abc first\n"pid": not a record\nshort'
    assert fast.model.value("loadgen_git_status_message") == "M a.py"


def test_a_sha1_table_with_a_bad_row_is_tried_in_bulk_once(tmp_path, monkeypatch):
    """A 2019 SHA-1 table the bulk reader turns down (a bad row near its end) is read line by line
    from there, not offered to the bulk reader again at every line (which made a table of a few
    thousand rows take seconds); the rows before and after the bad one are all kept."""
    from checker.parse import loadgen_detail

    calls: list[int] = []
    real = loadgen_detail._TextReader._sha1_table

    def counting(self, rows, start, count):
        calls.append(start)
        return real(self, rows, start, count)

    monkeypatch.setattr(loadgen_detail._TextReader, "_sha1_table", counting)
    prefix = '"pid": 1, "tid": 1, "ts": 1ns : '
    rows = [f"{i:040x} /file{i}.cc" for i in range(2000)]
    rows[1990] = "not a sha1 row"
    path = tmp_path / "mlperf_log_detail.txt"
    path.write_text(f"{prefix}version : .5a1 @ abc\n{prefix}SHA1 of files :\n" + "\n".join(rows)
                    + f"\n{prefix}Date + time of test: 2019-10-08T23:34:47Z\n")
    result = parse_detail(path)
    assert len(calls) == 1
    assert len(result.model.file_sha1) == 1999
    [problem] = [p for p in result.problems if p.code == "syntax"]
    assert problem.line == 1993 and problem.found == "not a sha1 row"


def _spy_cuts(monkeypatch, detail_module) -> list[int]:
    """Numbers of sample sets cut per whole-file read (the streamed path never cuts)."""
    made: list[int] = []
    real = detail_module._cut_sample_sets

    def spy(*args):
        scan, cuts = real(*args)
        made.append(len(cuts))
        return scan, cuts

    monkeypatch.setattr(detail_module, "_cut_sample_sets", spy)
    return made


def test_a_cut_mark_is_never_mistaken_for_the_logs_own_control_byte():
    """A \\x01 inside a cut set goes with it; one anywhere in the text that stays (before, between
    or after the sets) means nothing is cut."""
    from checker.parse.loadgen_detail import _any_tail, _at_line_start, _cut_sample_sets

    sample_set = "[" + "1," * 3000 + "2]"
    lines = [f"S {sample_set} a", f"S {sample_set[:-2]}\x01]", "b", f"S {sample_set}"]
    scan, cuts = _cut_sample_sets("\n".join(lines), "S [", _at_line_start, _any_tail)
    assert scan == "S [\x010] a\nS [\x011]\nb\nS [\x012]" and cuts == [sample_set, sample_set[:-2] + "\x01]", sample_set]
    for at in range(len(lines) + 1):
        text = "\n".join(lines[:at] + ["\x01"] + lines[at:])
        assert _cut_sample_sets(text, "S [", _at_line_start, _any_tail) == (text, [])


@pytest.mark.parametrize("extra, cut", [("", 3), ("\x01 a control byte elsewhere", 0)])
def test_long_mllog_sample_sets_are_cut_out_and_read_back_exactly(tmp_path, monkeypatch, extra, cut):
    """Long sample sets skip the row regex; the model is the one the line-by-line reader makes, also
    for sets the cut must leave alone (a ']' in the tail, a tail of another shape, a file with \\x01)."""
    import checker.parse.loadgen_detail as detail_module

    made = _spy_cuts(monkeypatch, detail_module)
    tail = (', "time_ms": 0.1, "namespace": "mlperf::logging", "event_type": "POINT_IN_TIME", "metadata": '
            '{{"is_error": false, "is_warning": false, "file": "{f}", "line_no": 1, "pid": 1, "tid": 1}}}}')
    numbers = ",".join(str(i) for i in range(3000))
    head = ':::MLLOG {"key": "loaded_qsl_set", "value": '
    lines = [
        ':::MLLOG {"key": "sut_name", "value": "PySUT"' + tail.format(f="x.cc"),
        head + f"[{numbers}]" + tail.format(f="x.cc"),  # cut
        head + f"[{numbers},7]" + tail.format(f="x.cc") + "\r",  # cut (a CR after the tail)
        head + f"[{numbers},8]" + tail.format(f="odd].cc"),  # the last ']' is in the tail: kept whole
        head + f"[{numbers},9] trailing" + tail.format(f="x.cc"),  # not the quiet shape: kept whole
        "  " + head + f"[{numbers}]" + tail.format(f="x.cc"),  # does not start the line: kept whole
        head + f"[{numbers},10]" + tail.format(f="x.cc"),  # cut
        extra,
    ]
    path = tmp_path / "mlperf_log_detail.txt"
    path.write_text("\n".join(lines))
    fast = whole_and_streamed(path, monkeypatch)
    assert made == [cut]
    entry = fast.model.entries["loaded_qsl_set"]
    assert entry.line == 2 and entry.count == 4 and fast.model.int_list("loaded_qsl_set") == list(range(3000))
    # the value with trailing text, the indented record (and the stray line)
    assert {p.line for p in fast.problems} == {5, 6} | ({8} if extra else set())


def test_long_2019_sample_sets_are_cut_out_and_read_back_exactly(tmp_path, monkeypatch):
    import checker.parse.loadgen_detail as detail_module

    made = _spy_cuts(monkeypatch, detail_module)
    numbers = ",".join(str(i) for i in range(3000))

    def rec(body: str) -> str:
        return f'"pid": 7, "tid": 7, "ts": 1ns : {body}'

    lines = [
        rec("version : .5a1 @ 6958607d52"),
        rec(f'Loading QSL : "set" : "[{numbers[:7]}\x00{numbers[7:]}]"'),  # cut; the NUL dropped as before
        rec(f'Loading QSL : "set" : "[{numbers}]" and ] more'),  # cut up to the last ']'
        f'"pid": 7, "tid": 7, "ts": 1ns :  Loading QSL : "set" : "[{numbers}]"',  # two spaces: kept whole
        f'Loading QSL : "set" : "[{numbers}]"',  # not a record (an unprefixed line): kept whole
        rec(f'Loading QSL : "set" : "[{numbers}]"\r'),  # cut
    ]
    path = tmp_path / "mlperf_log_detail.txt"
    path.write_text("\n".join(lines))
    fast = whole_and_streamed(path, monkeypatch)
    assert made == [3]
    assert fast.model.int_list("loaded_qsl_set") == list(range(3000))
    assert fast.model.entries["loaded_qsl_set"].count == 4


@pytest.mark.parametrize("tail, values", [
    ('"queries" : 64, "samples per query" : 1, "duration" : 5', (64, 1, 5)),  # LoadGen's own spacing
    ('"queries":64,  "samples per query" :1, "duration" : 5 ms', (64, 1, 5)),  # read one count at a time
    ('"duration" : 5, "queries" : 64', (64, None, 5)),
])
def test_generated_queries_counts(tmp_path, tail, values):
    path = tmp_path / "mlperf_log_detail.txt"
    path.write_text(f'"pid": 7, "tid": 7, "ts": 1ns : version : .5a1 @ 6958607d52\n'
                    f'"pid": 7, "tid": 7, "ts": 2ns : GeneratedQueries: {tail}\n')
    model = parse_detail(path).model
    keys = ("generated_query_count", "generated_samples_per_query", "generated_query_duration")
    assert tuple(model.value(key) for key in keys) == values
    assert all(model.get(key).line == 2 for key, value in zip(keys, values, strict=True) if value is not None)


def test_whole_file_read_declines_what_the_careful_reader_rejects(tmp_path, monkeypatch):
    """Found by fuzzing the corpus logs: lines the whole-file reader took while the line-by-line
    reader rejected them (so that both reads of one file disagreed). A metadata string holding a
    quote and a second ', "time_ms": ', a metadata string holding a brace before a broken sample
    set, and a 2019 SHA-1 row after a control character that str.strip() counts as a space."""
    tail = ', "namespace": "mlperf::logging", "event_type": "POINT_IN_TIME", "metadata": {"is_error": false, ' \
           '"is_warning": false, "file": "{file}", "line_no": 1, "pid": 1, "tid": 1}}'
    record = ':::MLLOG {{"key": "{key}", "value": {value}, "time_ms": 0.1' + tail.replace("{", "{{").replace(
        "}", "}}").replace("{{file}}", "{file}")
    lines = [
        record.format(key="sut_name", value='"SUT"', file="a.cc"),
        record.format(key="effective_max_query_count", value="0", file='tes: 0, "time_ms": 0.2, "x": "y'),
        record.format(key="loaded_qsl_set", value="[1,2 3]", file="in}side.cc"),
        record.format(key="effective_min_query_count", value="7", file="ok.cc"),
    ]
    path = tmp_path / "mlperf_log_detail.txt"
    path.write_text("\n".join(lines))
    fast = whole_and_streamed(path, monkeypatch)
    assert {p.line for p in fast.problems} == {2, 3}
    assert fast.model.value("effective_min_query_count") == 7 and "loaded_qsl_set" not in fast.model.entries

    def rec(body: str) -> str:
        return f'"pid": 7, "tid": 7, "ts": 1ns : {body}'

    text = [rec("SHA1 of files :"), "", "\x1e12aad77e5206c89d50718c46c119d1f3cb056b2 /.clang-format",  # 39 digits
            "\xa0a3355ff8f163cabbf26adb86d3aa0e5da72900c7 /BUILD.gn", rec("version : .5a1 @ 6958607d52")]
    path.write_text("\n".join(text))
    fast = whole_and_streamed(path, monkeypatch)
    assert [p.line for p in fast.problems] == [3] and list(fast.model.file_sha1) == ["/BUILD.gn"]


#: what the mutations insert: the characters the row patterns and the careful reader treat specially
_SPLICES = [b"\n", b"\r\n", b"\x00", b"{", b"}", b'"', b":", b"\xff", b"[", b"]", b",", b" : ", b"\x01", b"\x1e",
            b"\\", b'", "time_ms": ', b"9" * 20]


@pytest.mark.parametrize("round_name", ["v0.5", "v1.0"])
def test_whole_file_and_streaming_paths_agree_on_mutated_corpus_logs(corpus, round_name, tmp_path, monkeypatch):
    """Corpus detail logs with a few random bytes changed, inserted or cut (seeded, so a failure
    repeats): the whole-file read must still agree with the line-by-line read. This is how the
    metadata and SHA-1 table cases of the test above were found."""
    import random

    rng = random.Random(2026)
    logs = [p for p in sorted(corpus(round_name).rglob("mlperf_log_detail.txt")) if p.stat().st_size < 100_000]
    for case in range(150):
        data = bytearray(rng.choice(logs).read_bytes())
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data))
            action = rng.randrange(3)
            if action == 0:
                data[at:at] = rng.choice(_SPLICES)
            elif action == 1:
                data[at] = rng.randrange(256)
            else:
                del data[at : at + rng.randint(1, 40)]
        path = tmp_path / f"{case}" / "mlperf_log_detail.txt"
        path.parent.mkdir()
        path.write_bytes(bytes(data))
        whole_and_streamed(path, monkeypatch)
