"""Fingerprints of short training runs, for checking that a change of the code leaves training unchanged.

Trains small configurations covering every loss, regularizer, objective, augmentation, schedule and
architecture with fixed seeds, and prints for each the sha256 of every tensor of its final checkpoint
and of its logged values (timings left out). Run it before and after a change, on one machine, and
compare the lines:

    git stash && python scripts/fingerprint_runs.py > before.txt && git stash pop
    python scripts/fingerprint_runs.py > after.txt && diff before.txt after.txt
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file

from steadygan.train import train

SMALL = ["train.steps=12", "train.log_every=4", "train.sample_every=6", "train.checkpoint_every=6",
         "train.num_samples=16", "doctor.monitor_samples=16"]
NARROW = ["optim.batch_size=16", "model.g_width=16", "model.d_width=16", "data.resolution=16"]
CASES = {
    "dcgan": ("dcgan", NARROW),
    "dcgan_sn": ("dcgan", [*NARROW, "model.spectral_norm=true"]),
    "dcgan_fm_ls": ("dcgan", [*NARROW, "loss.g_objective=feature_matching", "loss.label_smoothing=two_sided"]),
    "dcgan_regs": ("dcgan", [*NARROW, "regularize.r1=1", "regularize.r2=0.5", "regularize.drift=0.001",
                             "regularize.ortho_g=0.0001", "regularize.ortho_d=0.0001", "model.init=orthogonal"]),
    "dcgan_mb": ("dcgan", [*NARROW, "model.minibatch_discrimination=true", "model.minibatch_stddev=true",
                           "regularize.diffaugment=color,translation,cutout", "data.hflip=true"]),
    "dcgan_decay": ("dcgan", [*NARROW, "optim.lr_decay=linear", "optim.lr_decay_start=0.25", "optim.n_dis=2",
                              "loss.name=minimax", "train.ema_start=5"]),
    "wgan": ("wgan", NARROW),
    "wgan-gp": ("wgan-gp", [*NARROW, "regularize.gp_one_sided=true"]),
    "sngan": ("sngan", NARROW),
    "sngan_stem": ("sngan", [*NARROW, "model.d_stem_stride=2"]),
    "sagan": ("sagan", NARROW),
    "biggan_lecam_cr": ("biggan", [*NARROW, "regularize.lecam=0.3", "regularize.lecam_start=4", "regularize.cr=10",
                                   "regularize.cr_fake=10", "regularize.zcr_dis=20", "regularize.zcr_gen=0.5"]),
    "r3gan_ramps": ("r3gan-small", [*NARROW, "optim.ramp_kimg=0.1"]),
    "dcgan_pack_ragan": ("dcgan", [*NARROW, "model.packing=2", "loss.name=ragan"]),
    "sngan-projection": ("sngan-projection", [*NARROW, "model.g_spectral_norm=true"]),
    "lsgan": ("lsgan", NARROW),
    "lsgan_chi2": ("lsgan", [*NARROW, "loss.name=lsgan_chi2"]),
    "began": ("began", NARROW),
    "ttur": ("ttur", NARROW),
    "pggan": ("pggan", ["optim.batch_size=8", "model.g_width=16", "model.d_width=16", "model.z_dim=16",
                        "data.resolution=16", "growth.fade_images=32", "growth.stabilize_images=32",
                        "growth.batch_sizes={4: 8, 8: 8, 16: 8}"]),
    "stylegan2": ("stylegan2", [*NARROW, "model.z_dim=16", "regularize.pl_interval=2", "regularize.r1_interval=2",
                                "train.ema_kimg=0.1"]),
    "stylegan2-ada": ("stylegan2-ada", [*NARROW, "model.z_dim=16", "regularize.ada_kimg=1",
                                        "regularize.ada_interval=1"]),
    "stylegan": ("stylegan2", [*NARROW, "model.z_dim=16", "model.arch=stylegan", "model.mapping_layers=2"]),
    "toy2d": ("toy2d", []),
    "toy2d-stable": ("toy2d-stable", []),
    "unrolled": ("unrolled", ["loss.unrolled_steps=3"]),
    "unrolled_rmsprop": ("unrolled", ["loss.unrolled_steps=2", "optim.optimizer=rmsprop"]),
    "mlp_leaky_bn": ("toy2d", ["model.activation=leaky_relu", "model.g_batchnorm=true"]),
}
TIMINGS = ("seconds_per_step",)


def fingerprint(recipe: str, overrides: list[str], out: Path) -> tuple[str, str]:
    result = train(recipe, [*overrides, *SMALL, f"train.out_dir={out}"], progress=False, tensorboard=False)
    tensors = load_file(str(result.checkpoint))
    weights = hashlib.sha256()
    for name in sorted(tensors):
        weights.update(name.encode() + tensors[name].reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
    logs = hashlib.sha256()
    for line in (out / "metrics.jsonl").read_text().splitlines():
        record = {k: v for k, v in json.loads(line).items() if k not in TIMINGS}
        logs.update(json.dumps(record, sort_keys=True).encode())
    return weights.hexdigest()[:16], logs.hexdigest()[:16]


def main() -> int:
    torch.set_num_threads(1)  # the same reduction order on every machine size
    for name in sys.argv[1:] or list(CASES):
        recipe, overrides = CASES[name]
        with tempfile.TemporaryDirectory() as folder:
            weights, logs = fingerprint(recipe, overrides, Path(folder) / "run")
        print(f"{name:18s} weights={weights} logs={logs}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
