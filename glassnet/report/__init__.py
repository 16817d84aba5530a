"""Reports of training runs: a self-contained HTML page (``write_report``), one that follows a
run (``LiveReport``), a page comparing runs (``write_compare``) and TensorBoard event files
(``write_tensorboard``)."""
from .compare import write_compare
from .html import SECTIONS, write_report
from .live import LiveReport
from .tensorboard import write_tensorboard

__all__ = ["write_report", "write_compare", "LiveReport", "write_tensorboard", "SECTIONS"]
