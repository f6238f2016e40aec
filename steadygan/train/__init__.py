"""Training: the loop, its parts, one step, the checkpointed state, EMA, the doctor and metric logs."""

from ..storage.checkpoint import load_checkpoint, save_checkpoint
from .ema import EMA
from .trainer import Trainer, TrainResult, train

__all__ = ["EMA", "TrainResult", "Trainer", "load_checkpoint", "save_checkpoint", "train"]
