"""Our training step against a minimal hand-written PyTorch loop on the same SNGAN CNN, and the data
loader's throughput against what training consumes.

    python bench/train_step.py                      # SNGAN CNN 32x32, batch 64, n_dis 5, hinge
    python bench/train_step.py --rounds 6 --steps 5 --data ../shared/data/anime-faces-64.zip

Both loops start from the same weights and run in alternating rounds in one process, so machine
noise affects both alike; the ratio uses the median round.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from steadygan.config import load_config
from steadygan.data import BatchStream
from steadygan.train import Trainer

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "anime-faces-64.zip"


def hand_written_loop(G, D, images: torch.Tensor, batch_size: int, n_dis: int, z_dim: int, device):
    """The SNGAN update as a tutorial writes it: hinge loss, Adam (0, 0.9), n_dis D steps per G step."""
    opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.0, 0.9))
    opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.0, 0.9))

    def step():
        for _ in range(n_dis):
            real = images[torch.randint(len(images), (batch_size,))].to(device).float().div(127.5).sub(1)
            with torch.no_grad():
                fake = G(torch.randn(batch_size, z_dim, device=device))
            d_loss = torch.relu(1 - D(real)).mean() + torch.relu(1 + D(fake)).mean()
            opt_D.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_D.step()
        for p in D.parameters():
            p.requires_grad_(False)
        g_loss = -D(G(torch.randn(batch_size, z_dim, device=device))).mean()
        opt_G.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_G.step()
        for p in D.parameters():
            p.requires_grad_(True)

    return step


def timed(step, n: int, device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(n):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA) if DEFAULT_DATA.exists() else "digits",
                        help="images to train on (default: the shared anime faces, else the built-in digits)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3, help="G steps per round and loop")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as out:
        config = load_config("sngan", [f"data.source={args.data}", "data.resolution=32", "data.channels=3",
                                       f"optim.batch_size={args.batch_size}", f"train.device={args.device}",
                                       f"train.out_dir={out}", "train.ema_start=0"])
        trainer = Trainer(config, progress=False, tensorboard=False)
        device = trainer.device
        G, D = copy.deepcopy(trainer.G), copy.deepcopy(trainer.D)
        images = torch.from_numpy(np.array(trainer.dataset.images)).to(device)
        hand_step = hand_written_loop(G, D, images, args.batch_size, config.optim.n_dis, config.model.z_dim, device)

        timed(trainer.train_step, 2, device)  # warm-up: allocator, thread pools, first-call dispatch
        timed(hand_step, 2, device)
        ours, hand = [], []
        for _ in range(args.rounds):
            ours.append(timed(trainer.train_step, args.steps, device))
            hand.append(timed(hand_step, args.steps, device))

        stream = BatchStream(trainer.dataset, args.batch_size, seed=1, hflip=True)
        batches = 200
        start = time.perf_counter()
        for _ in range(batches):
            real, _ = stream.next()
            real.to(device)
        loader_rate = batches * args.batch_size / (time.perf_counter() - start)

    ours_s, hand_s = statistics.median(ours), statistics.median(hand)
    consumed = args.batch_size * config.optim.n_dis / ours_s
    params = sum(p.numel() for p in trainer.G.parameters()), sum(p.numel() for p in trainer.D.parameters())
    print(f"SNGAN CNN 32x32, batch {args.batch_size}, n_dis {config.optim.n_dis}, hinge, on {device} "
          f"with {torch.get_num_threads()} threads; G {params[0] / 1e6:.2f}M / D {params[1] / 1e6:.2f}M params; "
          f"data {Path(args.data).name}")
    print(f"{'':28}{'s / G step (median)':>20}{'all rounds':>40}")
    print(f"{'steadygan Trainer.train_step':28}{ours_s:>20.4f}{'  '.join(f'{t:.4f}' for t in ours):>40}")
    print(f"{'hand-written loop':28}{hand_s:>20.4f}{'  '.join(f'{t:.4f}' for t in hand):>40}")
    print(f"ratio steadygan / hand-written: {ours_s / hand_s:.3f}  (target <= 1.05)")
    print(f"loader from the uint8 cache: {loader_rate:,.0f} images/s with flips; training consumes "
          f"{consumed:,.0f} real images/s; headroom {loader_rate / consumed:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
