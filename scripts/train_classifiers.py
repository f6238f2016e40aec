"""Trains the digit classifiers shipped in steadygan/weights/, with fixed seeds.

    python scripts/train_classifiers.py [--mnist ../shared/data/mnist]

`digits` reads the built-in digits at 16x16 (the resolution the digit recipes train at); `mnist`
reads the 10,000 MNIST test images at 32x32 (the MNIST training images are not used, so any MNIST
data can be stacked and scored). Each keeps 10% of its images out of training and reports its accuracy
on them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from steadygan.metrics.classifier import BUILTIN, train_classifier_file

WEIGHTS = Path(__file__).resolve().parents[1] / "steadygan" / "weights"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"))
    parser.add_argument("--only", choices=sorted(BUILTIN))
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    plans = {"digits": {"source": "digits", "resolution": 16, "epochs": 40, "batch_size": 64},
             "mnist": {"source": args.mnist, "resolution": 32, "epochs": 6, "batch_size": 128}}
    for name, plan in plans.items():
        if args.only and name != args.only:
            continue
        path, report = train_classifier_file(out=WEIGHTS / BUILTIN[name], seed=0, **plan)
        print(f"{name}: {path} ({path.stat().st_size / 2**20:.1f} MB) {json.dumps(report)}")


if __name__ == "__main__":
    main()
