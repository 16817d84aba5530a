"""The doctor at work: three broken runs and what it says about each, then the fixed run.

    python examples/doctor_at_work.py [--quick]
"""
import sys
import warnings

import glassnet as gn
from _common import parse

CASES = [
    ("1. learning rate 10x too high", "lr_too_high"),
    ("2. all weights start at zero", "zero_init"),
    ("3. inputs not normalized", "unscaled_inputs"),
    ("4. the fixed run", "digits_mlp"),
]


def main(argv=None):
    parse(argv, __doc__, "doctor_at_work")
    out = {}
    for title, case in CASES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = gn.doctor.pathologies.run_case(case)
        findings = gn.doctor.pathologies.examine_case(r)  # with the data, as a user would pass it
        last = r.trainer.history.epochs[-1] if r.trainer.history.epochs else {}
        print(f"\n=== {title}: {r.case.what}")
        print(f"    (validation accuracy {last.get('val_accuracy', float('nan')):.3f})")
        serious = [f for f in findings if f.severity != "info"]
        shown = gn.doctor.Findings(serious[:2], findings.checked) if serious else findings
        print("    " + gn.doctor.format_findings(shown).replace("\n", "\n    "))
        out[case if case != "digits_mlp" else "healthy"] = [f.code for f in serious]
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
