"""The training doctor: monitors, sanity checks, diagnoses in plain words.

    mon = gn.doctor.Monitor(every=50)
    trainer = gn.Trainer(net, loss, opt, callbacks=[mon])
    trainer.fit(...)
    for finding in gn.doctor.examine(trainer):
        print(finding)
"""
from . import pathologies
from .examine import Findings, examine, format_findings, run_view
from .fix import try_fix
from .lr_range import lr_range_test
from .memory import memory_finding
from .monitors import Monitor, gradient_through_time
from .rules import RULES, RunView, sort_findings
from .sanity import sanity_checks

__all__ = ["pathologies", "Monitor", "examine", "Findings", "format_findings", "run_view", "sanity_checks", "memory_finding", "gradient_through_time",
           "lr_range_test", "try_fix", "RULES", "RunView", "sort_findings"]
