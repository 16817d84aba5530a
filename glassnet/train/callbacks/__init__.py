"""Trainer callbacks."""
from .base import EVENTS, Callback, CallbackList, MonitorCallback, StopTraining
from .builtin import (EarlyStopping, GradientClipping, ModelCheckpoint, PolyakAveraging, ProgressBar,
                      ReduceLROnPlateau, TerminateOnNaN)

__all__ = ["Callback", "CallbackList", "MonitorCallback", "StopTraining", "EVENTS", "EarlyStopping",
           "ModelCheckpoint", "ReduceLROnPlateau", "TerminateOnNaN", "PolyakAveraging", "GradientClipping",
           "ProgressBar"]
