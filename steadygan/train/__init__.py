"""Training: the loop, its schedule state, EMA, checkpoints and metric logs."""

from .checkpoint import load_checkpoint, save_checkpoint
from .ema import EMA
from .trainer import Trainer, TrainResult, train

__all__ = ["EMA", "TrainResult", "Trainer", "load_checkpoint", "save_checkpoint", "train"]
