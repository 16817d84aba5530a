"""Reports of training runs: a self-contained HTML page (``write_report``) and TensorBoard
event files (``write_tensorboard``)."""
from .html import SECTIONS, write_report
from .tensorboard import write_tensorboard

__all__ = ["write_report", "write_tensorboard", "SECTIONS"]
