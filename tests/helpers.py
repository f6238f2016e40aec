"""Shared test helpers."""

from steadygan.config import load_config
from steadygan.train import Trainer


def tiny_config(out_dir, recipe="sngan-projection", **overrides):
    """A recipe shrunk to run a step in a fraction of a second on a CPU."""
    values = {
        "data.resolution": 16, "model.g_width": 8, "model.d_width": 8, "model.z_dim": 16,
        "optim.batch_size": 8, "optim.n_dis": 2, "train.steps": 6, "train.log_every": 2,
        "train.sample_every": 3, "train.checkpoint_every": 4, "train.num_samples": 8,
        "train.ema_decay": 0.9, "train.out_dir": str(out_dir),
    }
    values.update(overrides)
    return load_config(recipe, [f"{k}={v}" for k, v in values.items()])


def tiny_trainer(out_dir, recipe="sngan-projection", **overrides):
    """A quiet Trainer (no progress bar, no TensorBoard) of `tiny_config`."""
    return Trainer(tiny_config(out_dir, recipe, **overrides), progress=False, tensorboard=False)
