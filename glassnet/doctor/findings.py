"""Findings: what a check noticed, in plain words, with the evidence and a remedy.

Produced by data checks now and by the training doctor later; ``str(finding)`` reads as a
sentence a practitioner can act on.
"""
from __future__ import annotations

from dataclasses import dataclass, field

SEVERITIES = ("info", "warning", "error")


@dataclass
class Finding:
    severity: str          # "info", "warning" or "error"
    what: str              # the problem, in one sentence
    evidence: str = ""     # the numbers behind it
    remedy: str = ""       # what to do
    code: str = ""         # a stable identifier, e.g. "data.unscaled_features"
    data: dict = field(default_factory=dict)

    def __str__(self):
        parts = [f"[{self.severity}] {self.what}"]
        if self.evidence:
            parts.append(f"  evidence: {self.evidence}")
        if self.remedy:
            parts.append(f"  remedy: {self.remedy}")
        return "\n".join(parts)
