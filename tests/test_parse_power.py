"""PTDaemon's spl.txt: the all-usual-lines path (numpy) and the line-by-line path give the same samples."""

from __future__ import annotations

from checker.parse.power import _stamp_seconds, parse_spl


def _real_spl(corpus):
    return next(iter(sorted(corpus("v4.1").rglob("spl.txt"))))


def test_usual_file_read_at_once_equals_line_by_line(corpus, tmp_path):
    real = _real_spl(corpus)
    lines = real.read_text().splitlines()
    usual = parse_spl(real).model
    assert usual.count == len([line for line in lines if line.strip()]) > 100

    # one header line sends the whole file through the line-by-line path
    mixed = tmp_path / "spl.txt"
    mixed.write_text("\n".join(["PTD header, not a sample", *lines]) + "\n")
    careful = parse_spl(mixed).model
    assert careful.skipped_lines == 1
    assert careful.times == usual.times and careful.watts == usual.watts
    assert careful.lines == [n + 1 for n in usual.lines] and careful.marks == usual.marks

    fields = lines[0].split(",")
    date, clock = fields[1].split(" ")
    month, day, year = date.split("-")
    hour, minute, second = clock.split(":")
    assert usual.times[0] == _stamp_seconds(month, day, year, hour, minute, second)


def test_an_impossible_time_is_a_problem_not_a_sample(tmp_path):
    path = tmp_path / "spl.txt"
    good = "Time,03-19-2021 15:45:55.379,Watts,184.4,Volts,245.9,Amps,0.8,PF,0.93,Mark,run"
    path.write_text("\n".join([good, good.replace("15:45", "25:45"), good.replace("03-19", "02-30")]))
    result = parse_spl(path)
    assert result.model.count == 1 and result.model.marks == ["run"]
    assert [p.line for p in result.problems if p.code == "syntax"] == [2, 3]


def test_a_watts_value_that_is_no_number_is_a_problem_not_an_exception(tmp_path):
    """Text the sample pattern once let through as a number (1.2.3, a lone sign or exponent) is a bad
    line, reported, and the file's other samples are kept."""
    good = "Time,07-23-2024 15:47:16.858,Watts,123.5,Volts,230.1,Amps,0.5,PF,0.99,Mark,run\n"
    for watts in ("1.2.3", "-", "e", "1e", "."):
        path = tmp_path / "spl.txt"
        path.write_text(good * 3 + good.replace("123.5", watts) + good)
        result = parse_spl(path)
        assert result.model is not None and result.model.count == 4, watts
        assert [(p.code, p.line) for p in result.problems] == [("syntax", 4)], watts


def test_a_parser_that_raises_costs_its_file_not_the_run(tmp_path, monkeypatch):
    """The engine's safety net: a parser bug becomes an unusable-file problem naming the exception."""
    from checker.engine import evidence as evidence_module
    from checker.findings import Scope

    def broken(path, root=None):
        raise ValueError("could not convert string to float: '1.2.3'")

    monkeypatch.setattr(evidence_module, "parser_for", lambda kind: broken)
    path = tmp_path / "spl.txt"
    path.write_text("Time,07-23-2024 15:47:16.858,Watts,1,Mark,run\n")
    result = evidence_module.Evidence(tmp_path).parse(path, "power_spl", Scope())
    assert result is not None and result.model is None
    [problem] = result.problems
    assert problem.code == "internal" and "ValueError" in problem.found and problem.path == "spl.txt"
