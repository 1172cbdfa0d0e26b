"""Rule documentation as text: `mlperf-audit explain ID` and the generated docs/rules.md."""

from __future__ import annotations

from checker.engine.registry import RuleSpec


def explain_text(spec: RuleSpec) -> str:
    return "\n".join(
        [
            f"{spec.id}: {spec.title}",
            f"area: {spec.area}; applies to each {spec.scope}; default severity: {spec.default_severity.value}",
            "",
            f"What it checks: {spec.what}",
            "",
            f"Why it matters: {spec.why}",
            "",
            f"Rules' section: {spec.section}",
            "",
            f"How to fix a failure: {spec.fix}",
        ]
    )


def rules_markdown(specs: dict[str, RuleSpec], rounds: dict[str, dict[str, str]]) -> str:
    """docs/rules.md: one section per rule, with its severity in each round."""
    lines = [
        "# mlperf-audit rules",
        "",
        "Generated from the rules' own documentation (`mlperf-audit explain ID`); do not edit by hand.",
        "Regenerate with `python -m checker.report.rules_doc > docs/rules.md`.",
        "",
    ]
    round_names = list(rounds)
    for rule_id in sorted(specs):
        spec = specs[rule_id]
        lines += [f"## {rule_id}: {spec.title}", ""]
        lines += [f"*Area:* {spec.area}. *Scope:* each {spec.scope}. *Default severity:* {spec.default_severity.value}.", ""]
        if round_names:
            cells = [rounds[name].get(rule_id, "—") for name in round_names]
            lines += ["| " + " | ".join(round_names) + " |", "|" + "---|" * len(round_names),
                      "| " + " | ".join(cells) + " |", ""]
        lines += [f"**What it checks.** {spec.what}", "", f"**Why it matters.** {spec.why}", "",
                  f"**Rules' section.** {spec.section}", "", f"**How to fix.** {spec.fix}", ""]
    return "\n".join(lines)


def current_markdown() -> str:
    from checker.engine.registry import load_all_checks
    from checker.engine.rulepack import known_rounds, load_pack

    specs = load_all_checks()
    rounds = {}
    for name in known_rounds():
        pack = load_pack(name)
        rounds[name] = {rule_id: setting.severity for rule_id, setting in pack.rules.items()}
    return rules_markdown(specs, rounds)


if __name__ == "__main__":  # pragma: no cover
    print(current_markdown(), end="")
