"""The kinds of data and of discriminator output, as types the checker knows."""

from typing import Literal

DataKind = Literal["image", "points"]  # images (N, C, H, W) or 2-D points (N, 2)
DOutput = Literal["logits", "energy"]  # what D returns: logits or critic values, or BEGAN's reconstruction energy
