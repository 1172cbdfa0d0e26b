"""R rules: findings of ``mlperf-audit rerun``, which replays a result with the real LoadGen.

They are not run by ``check`` (a re-run needs a model and sample data); they are declared here so
that ``explain`` and the rule list document them like every other rule.
"""

from __future__ import annotations

from checker.engine.registry import declare
from checker.findings import Severity

SECTION = "mlperf-audit rerun: replaying a result on sample data with the real LoadGen"

declare(
    "R001",
    title="Re-run accuracy below the reference",
    what="On the sample data, the given model's top-1 accuracy is below the quality fraction "
    "(99 % by default) of the reference model's accuracy on the same samples.",
    why="A closed result must reach the benchmark's quality target; a model that loses accuracy "
    "against the reference on sample data is unlikely to reach it on the full set.",
    section=SECTION,
    fix="Check the model's weights, quantization and preprocessing against the reference.",
)
declare(
    "R002",
    title="Given model disagrees with the reference",
    what="On the sample data, the given model's top-1 predictions differ from the reference model's "
    "on more samples than allowed (none by default).",
    why="The submitted model should compute what the reference computes; disagreement shows a "
    "changed, pruned or mis-quantized model even when the overall accuracy still looks fine.",
    section=SECTION,
    fix="Compare the model with the reference (weights, graph, numerics); allow some disagreement "
    "with --min-agreement for legitimately quantized models.",
    severity=Severity.WARNING,
)
declare(
    "R003",
    title="Submitted accuracy log not reproduced",
    what="For qsl_idx values the sample covers, the submission's accuracy-log entries differ from "
    "what the given model produces: a different top-1 class (error) or different bytes with the "
    "same class (warning).",
    why="The accuracy log is the evidence for the accuracy claim; if the given model does not "
    "reproduce it, the claim was made with another model or another pipeline.",
    section=SECTION,
    fix="Re-run the accuracy test with the model that is submitted, and publish its log.",
)
declare(
    "R004",
    title="LoadGen rejected the submission's settings",
    what="Re-running PerformanceOnly with the submission's settings (durations scaled down) failed or "
    "made LoadGen log errors.",
    why="Settings LoadGen rejects cannot have produced a valid result.",
    section=SECTION,
    fix="Use settings LoadGen accepts (see the re-run's detail log for its error messages).",
)
declare(
    "R005",
    title="Effective settings differ from the submission's",
    what="The re-run's effective settings (scenario, seeds, performance sample count, samples per "
    "query, Server target QPS and latency, latency percentile) differ from those the submission's "
    "detail log shows.",
    why="The same settings must give the same effective settings; a difference means the logged "
    "settings were not what LoadGen was given, or the logs were edited.",
    section=SECTION,
    fix="Regenerate the result's logs with the settings it claims.",
)
declare(
    "R006",
    title="Loaded sample set not reproduced",
    what="The set of samples LoadGen loads (loaded_qsl_set) for the submission's seeds and counts "
    "differs from the set its detail log shows.",
    why="The loaded set is a deterministic function of the seeds and the QSL sizes: a different set "
    "means other seeds or sizes were used than logged, or the log was edited.",
    section=SECTION,
    fix="Regenerate the result's logs with the round's seeds and the logged QSL sizes.",
)
declare(
    "R007",
    title="TEST01 re-run fails",
    what="Re-running TEST01 with the given model: the responses logged in performance mode differ "
    "from the accuracy-mode responses for the same qsl_idx (error), or its performance differs "
    "from the re-run's beyond the tolerance (warning).",
    why="A system must compute the same answers whether or not its outputs are being checked.",
    section=SECTION,
    fix="Make the SUT deterministic and identical in both modes.",
)
declare(
    "R008",
    title="TEST04 re-run fails",
    what="Re-running TEST04 with the given model: issuing one sample repeatedly (TEST04-B) is faster "
    "than issuing every sample once (TEST04-A) beyond the tolerance.",
    why="A faster repeated sample points to caching of results, which the rules forbid.",
    section=SECTION,
    fix="Remove any caching of inputs or outputs between queries.",
    severity=Severity.WARNING,
)
