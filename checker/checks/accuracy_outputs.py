"""A020: generated outputs the accuracy folder must include (SDXL images since v4.0, Wan videos).

For the generative benchmarks the round asks for a fixed set of the accuracy run's outputs, by
sample id, so that reviewers can look at them: ``accuracy/images/<id>.png`` for Stable Diffusion XL
(ten ids per round), ``accuracy/videos/<id>.mp4`` for Wan 2.2. The pack's
``benchmarks.<b>.sample_outputs`` lists the folder, the ids and the extension; a file matches its id
by name without extension, as the official checker matched them.
"""

from __future__ import annotations

from collections.abc import Iterator

from checker.engine.context import Context
from checker.engine.registry import Violation, rule
from checker.findings import Severity


@rule(
    "A020",
    title="Generated sample outputs missing",
    scope="result",
    what="The accuracy folder of a generative benchmark lacks the sample outputs the round names "
    "(accuracy/images/<id>.png for Stable Diffusion XL, accuracy/videos/<id>.mp4 for Wan 2.2).",
    why="The named outputs let reviewers see what the accuracy run generated; the round requires them "
    "with the accuracy scores. In the open division, where the accuracy rules do not bind, a warning.",
    section="Submission rules: generative benchmarks, sample outputs in the accuracy folder",
    fix="Copy the round's sample ids from the accuracy run's outputs into the folder named.",
)
def sample_outputs(ctx: Context) -> Iterator[Violation]:
    _, bench = ctx.benchmark()
    if bench is None or not bench.sample_outputs:
        return
    accuracy = ctx.accuracy_dir()
    assert ctx.unit is not None
    severity = None if ctx.unit.division == "closed" else Severity.WARNING
    if not accuracy.is_dir():
        return  # S006 reports the missing accuracy folder
    for folder_name, spec in bench.sample_outputs.items():
        folder = accuracy / folder_name
        wanted = [f"{i}.{spec.extension}" for i in spec.ids]
        if not folder.is_dir():
            yield Violation(f"accuracy/{folder_name}/ missing: the round's {len(spec.ids)} sample outputs are not "
                            "included", path=ctx.rel(folder), expected=", ".join(wanted), found="missing",
                            severity=severity)
            continue
        try:
            stems = {p.name.split(".")[0] for p in folder.iterdir() if p.is_file()}
        except OSError:
            stems = set()
        missing = [name for i, name in zip(spec.ids, wanted, strict=True) if i not in stems]
        if missing:
            yield Violation(f"{len(missing)} of the round's sample outputs missing in {ctx.rel(folder)}",
                            path=ctx.rel(folder / missing[0]), expected=", ".join(missing), found="missing",
                            severity=severity)
