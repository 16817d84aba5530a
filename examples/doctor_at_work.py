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
    ("4. the fixed run", "healthy"),
]


def main(argv=None):
    parse(argv, __doc__, "doctor_at_work")
    out = {}
    for title, case in CASES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trainer, expected = gn.doctor.pathologies.run(case)
        findings = [f for f in gn.doctor.examine(trainer) if f.severity != "info"]
        last = trainer.history.epochs[-1] if trainer.history.epochs else {}
        print(f"\n=== {title}: {gn.doctor.pathologies.PATHOLOGIES[case][0]}")
        print(f"    (validation accuracy {last.get('val_accuracy', float('nan')):.3f})")
        print("    " + gn.doctor.format_findings(findings[:2]).replace("\n", "\n    "))
        out[case] = [f.code for f in findings]
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
