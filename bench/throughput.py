"""Training throughput: steadygan's step against a minimal hand-written PyTorch loop of the same model,
float32 against bf16, eager against compiled, and the data pipeline against what the step consumes.

    python bench/throughput.py                       # SNGAN 32x32, PGGAN 64x64, StyleGAN2 64 and 256, CPU sizes
    python bench/throughput.py --full --device cuda  # the recipes' own widths on a GPU
    python bench/throughput.py --quick               # a few seconds: what the tests run

Both loops start from the same weights and alternate rounds in one process, so machine noise hits both
alike; each figure is the median round. The hand-written loops do what a tutorial does: the recipe's
loss, Adam, n_dis D steps per G step, the EMA of G; PGGAN's adds WGAN-GP and the drift term; StyleGAN2's
is the official loop's iteration written out (lazy R1, path length, style mixing, the EMA's half-life).
StyleGAN2 at 256x256 trains on the digits upsampled (the faces are 64x64); speed does not depend on content.
"""

from __future__ import annotations

import argparse
import copy
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from common import SHARED_DATA, ResultsFile

RESULTS_FILE = ResultsFile(__file__)

HERE = Path(__file__).resolve().parent

# model -> (recipe, resolution, overrides per preset)
MODELS = {
    "SNGAN CNN 32x32": ("sngan", 32, {"cpu": [], "full": [], "quick": ["model.g_width=8", "model.d_width=8"]}),
    "PGGAN 64x64": ("pggan", 64, {"cpu": ["model.g_width=64", "model.d_width=64", "model.z_dim=128"],
                                  "full": [], "quick": ["model.g_width=8", "model.d_width=8", "model.z_dim=16"]}),
    "StyleGAN2 64x64": ("stylegan2", 64, {
        "cpu": ["model.g_width=64", "model.d_width=64", "model.z_dim=128", "model.mapping_layers=2",
                "model.channel_base=0", "optim.batch_size=16"],
        "full": [], "quick": ["model.g_width=8", "model.d_width=8", "model.z_dim=16", "model.mapping_layers=2"]}),
    "StyleGAN2 256x256": ("stylegan2", 256, {
        "cpu": ["model.g_width=32", "model.d_width=32", "model.z_dim=128", "model.mapping_layers=2",
                "model.channel_base=2048", "optim.batch_size=4"],
        "full": [], "quick": ["model.g_width=4", "model.d_width=4", "model.z_dim=16", "model.mapping_layers=2"]}),
}


def stylegan2_loop(config, G, D, images: torch.Tensor, batch_size: int, autocast, device: torch.device):
    """One iteration of StyleGAN2's training as stylegan2-ada-pytorch's loop and loss do it, written out: the
    non-saturating loss, R1 on reals every 16 D steps (its own forward pass, weighted by 16), path length on
    half the batch every 4 G steps, style mixing with probability 0.9, the EMA by its half-life."""
    reg = config.regularize
    opt_G = torch.optim.Adam(G.parameters(), lr=config.optim.g_lr, betas=config.optim.g_betas)
    opt_D = torch.optim.Adam(D.parameters(), lr=config.optim.d_lr, betas=config.optim.d_betas)
    G_ema = copy.deepcopy(G).eval()
    count = {"d": 0, "g": 0, "images": 0}
    pl_mean = torch.zeros((), device=device)

    def run_G(z):
        ws = G.mapping(z)
        if torch.rand(()) < reg.style_mixing:
            cutoff = int(torch.randint(1, ws.shape[1], ()))
            ws = torch.cat([ws[:, :cutoff], G.mapping(torch.randn_like(z), update_average=False)[:, cutoff:]], 1)
        return G.synthesis(ws), ws

    def step():
        nonlocal pl_mean
        real = images[torch.randint(len(images), (batch_size,))].to(device).float().div(127.5).sub(1)
        z = torch.randn(batch_size, config.model.z_dim, device=device)
        with autocast():
            with torch.no_grad():
                fake, _ = run_G(z)
            loss = (F.softplus(D(fake).float()) + F.softplus(-D(real).float())).mean()
            if count["d"] % reg.r1_interval == 0:
                x = real.detach().requires_grad_(True)
                with torch.autocast(device.type, enabled=False):
                    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
                loss = loss + reg.r1 / 2 * grad.square().sum(dim=(1, 2, 3)).mean() * reg.r1_interval
        opt_D.zero_grad(set_to_none=True)
        loss.backward()
        opt_D.step()
        count["d"] += 1
        D.requires_grad_(False)
        with autocast():
            fake, _ = run_G(torch.randn(batch_size, config.model.z_dim, device=device))
            loss = F.softplus(-D(fake).float()).mean()
            if count["g"] % reg.pl_interval == 0:
                fake, ws = run_G(torch.randn(batch_size // reg.pl_batch_shrink, config.model.z_dim, device=device))
                noise = torch.randn_like(fake) / (fake.shape[2] * fake.shape[3]) ** 0.5
                (grad,) = torch.autograd.grad((fake * noise).sum(), ws, create_graph=True)
                lengths = grad.float().square().sum(2).mean(1).sqrt()
                mean = pl_mean.lerp(lengths.mean(), reg.pl_decay)
                pl_mean = mean.detach()
                loss = loss + reg.path_length * (lengths - mean).square().mean() * reg.pl_interval
        opt_G.zero_grad(set_to_none=True)
        loss.backward()
        opt_G.step()
        D.requires_grad_(True)
        count["g"] += 1
        count["images"] += batch_size
        half_life = min(config.train.ema_kimg * 1000, count["images"] * config.train.ema_rampup)
        beta = 0.5 ** (batch_size / max(half_life, 1e-8))
        with torch.no_grad():
            for average, parameter in zip(G_ema.parameters(), G.parameters(), strict=True):
                average.copy_(parameter.lerp(average, beta))
            for average, buffer in zip(G_ema.buffers(), G.buffers(), strict=True):
                average.copy_(buffer)

    return step


def hand_written_loop(recipe: str, config, G, D, images: torch.Tensor, batch_size: int, n_dis: int, z_dim: int,
                      precision: str, device: torch.device):
    """One G step as a tutorial writes it, for the recipe's loss; images are the uint8 training set."""
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if precision == "bf16" else (
        lambda: torch.autocast(device.type, enabled=False))
    if recipe == "stylegan2":
        return stylegan2_loop(config, G, D, images, batch_size, autocast, device)
    if recipe == "sngan":
        opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.0, 0.9))
        opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.0, 0.9))
    else:
        opt_G = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.0, 0.99))
        opt_D = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.0, 0.99))
    ema = [p.detach().clone() for p in G.parameters()]

    def d_loss(real, fake):
        real_out, fake_out = D(real).float(), D(fake).float()
        if recipe == "sngan":
            return torch.relu(1 - real_out).mean() + torch.relu(1 + fake_out).mean()
        t = torch.rand(len(real), 1, 1, 1, device=device)
        x = torch.lerp(fake.float(), real, t).requires_grad_(True)
        with torch.autocast(device.type, enabled=False):
            (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
        penalty = (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
        return fake_out.mean() - real_out.mean() + 10 * penalty + 1e-3 * real_out.pow(2).mean()

    def step():
        for _ in range(n_dis):
            real = images[torch.randint(len(images), (batch_size,))].to(device).float().div(127.5).sub(1)
            with autocast():
                with torch.no_grad():
                    fake = G(torch.randn(batch_size, z_dim, device=device))
                loss = d_loss(real, fake)
            opt_D.zero_grad(set_to_none=True)
            loss.backward()
            opt_D.step()
        D.requires_grad_(False)
        with autocast():
            g_loss = -D(G(torch.randn(batch_size, z_dim, device=device))).float().mean()
        opt_G.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_G.step()
        D.requires_grad_(True)
        torch._foreach_lerp_(ema, [p.detach() for p in G.parameters()], 0.001)

    return step


def timed(step, n: int, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(n):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / n


def measure(name: str, data: str, preset: str, precision: str, compiled: bool, args, out: str) -> dict:
    """Median seconds per G step of our Trainer.train_step and of the hand-written loop."""
    from steadygan.config import load_config
    from steadygan.train import Trainer

    recipe, resolution, overrides = MODELS[name]
    if resolution > 64:  # larger than the faces: the digits, upsampled by convention (speed ignores content)
        data = "digits"
    settings = [f"data.source={data}", f"data.resolution={resolution}", "data.channels=3",
                f"train.device={args.device}", f"train.out_dir={out}/{recipe}-{resolution}-{precision}-{compiled}",
                f"train.precision={precision}", f"train.compile={compiled}", "train.ema_start=0", *overrides[preset]]
    if recipe == "pggan":  # the last phase: every block at 64x64, alpha 1
        settings += [f"growth.start_resolution={resolution}"]
    if preset == "quick":
        settings += ["optim.batch_size=8", "growth.batch_sizes={}"]
    config = load_config(recipe, settings)
    trainer = Trainer(config, progress=False, tensorboard=False)
    device, batch = trainer.device, trainer.stream.batch_size
    G, D = copy.deepcopy(trainer.G), copy.deepcopy(trainer.D)
    if compiled:
        G.compile()
        if recipe == "sngan":  # a compiled D has no second derivative for WGAN-GP or R1, as in ours
            D.compile()
    hand = hand_written_loop(recipe, config, G, D, torch.from_numpy(np.array(trainer.dataset.images)), batch,
                             config.optim.n_dis, config.model.z_dim, precision, device)
    warm = 3 if compiled else 1  # compiling happens in the first calls
    timed(trainer.train_step, warm, device)
    timed(hand, warm, device)
    ours, theirs = [], []
    for _ in range(args.rounds):
        ours.append(timed(trainer.train_step, args.steps, device))
        theirs.append(timed(hand, args.steps, device))
    ours_s, hand_s = statistics.median(ours), statistics.median(theirs)
    images = batch * config.optim.n_dis  # real images D draws per G step
    return {"model": name, "precision": precision, "compiled": compiled, "batch": batch,
            "n_dis": config.optim.n_dis, "ours": images / ours_s, "hand": images / hand_s, "ours_s": ours_s,
            "hand_s": hand_s, "ratio": hand_s / ours_s, "trainer": trainer,
            "params": (sum(p.numel() for p in G.parameters()), sum(p.numel() for p in D.parameters()))}


def loader_rate(trainer, workers: int, batches: int) -> float:
    """Images/s of the data pipeline alone: batches from the memory-mapped cache, flipped, on the device."""
    from steadygan.data import BatchStream

    stream = BatchStream(trainer.dataset, trainer.stream.batch_size, seed=1, hflip=True, workers=workers)
    stream.next()
    start = time.perf_counter()
    for _ in range(batches):
        trainer.batches.prepare_real(*stream.next())
    if trainer.device.type == "cuda":
        torch.cuda.synchronize()
    return batches * trainer.stream.batch_size / (time.perf_counter() - start)


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(SHARED_DATA / "anime-faces-64.zip"))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3, help="G steps per round and loop")
    parser.add_argument("--full", action="store_true", help="the recipes' own widths (for a GPU)")
    parser.add_argument("--quick", action="store_true", help="tiny models on the built-in digits")
    parser.add_argument("--no-compile", action="store_true", help="skip the compiled rows")
    parser.add_argument("--out", type=RESULTS_FILE.check,
                        help="Markdown results (default bench/results/throughput-<device>.md)")
    return parser.parse_args(argv)


def benchmark(args: argparse.Namespace) -> tuple[list[dict], list[tuple], str]:
    """Every model, precision and mode measured, the loader rates, and the Markdown report of them."""
    preset = "quick" if args.quick else "full" if args.full else "cpu"
    data = "digits" if args.quick or not Path(args.data).exists() else args.data
    variants = [("fp32", False), ("bf16", False)] + ([] if args.no_compile else [("fp32", True)])

    rows, loaders = [], []
    with tempfile.TemporaryDirectory() as out:
        for name in MODELS:
            # StyleGAN2's R1 and path length differentiate gradients through D and G: both stay eager.
            modes = [v for v in variants if not (v[1] and MODELS[name][0] == "stylegan2")]
            for precision, compiled in modes:
                row = measure(name, data, preset, precision, compiled, args, out)
                rows.append(row)
                print(f"{name}, {precision}, {'compiled' if compiled else 'eager'}: steadygan {row['ours']:,.1f} "
                      f"img/s, hand-written {row['hand']:,.1f} img/s, ratio {row['ratio']:.3f}", flush=True)
            trainer = rows[-len(modes)]["trainer"]
            for workers in (0, 2):
                loaders.append((name, workers, loader_rate(trainer, workers, 20 if args.quick else 200),
                                rows[-len(modes)]["ours"]))
    device = rows[0]["trainer"].device
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else (
        f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads")
    lines = [f"# Training throughput on {device_name}", "",
             (f"`python bench/throughput.py{' --full' if args.full else ' --quick' if args.quick else ''}`, "
              f"torch {torch.__version__}, data {Path(data).name}, {preset} sizes; real images D draws per second "
              f"(batch x n_dis per G step), median of {args.rounds} alternating rounds of {args.steps} G steps."), "",
             ("| model | G / D params | batch x n_dis | precision | mode | steadygan img/s | hand-written img/s | "
              "steadygan / hand |"), "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['params'][0] / 1e6:.2f}M / {r['params'][1] / 1e6:.2f}M | {r['batch']} x "
                     f"{r['n_dis']} | {r['precision']} | {'compiled' if r['compiled'] else 'eager'} | "
                     f"{r['ours']:,.1f} | "
                     f"{r['hand']:,.1f} | {r['ratio']:.3f} |")
    for name in MODELS:
        base = {(r["precision"], r["compiled"]): r["ours"] for r in rows if r["model"] == name}
        compiled = (f", compiled / eager {base[('fp32', True)] / base[('fp32', False)]:.2f}x"
                    if ("fp32", True) in base else "")
        lines.append(f"\n{name}: bf16 / fp32 {base[('bf16', False)] / base[('fp32', False)]:.2f}x{compiled}")
    lines += ["", "| model | loader threads | loader img/s | step consumes img/s | headroom |", "|---|---|---|---|---|"]
    for name, workers, rate, consumed in loaders:
        lines.append(f"| {name} | {workers} | {rate:,.0f} | {consumed:,.1f} | {rate / consumed:,.0f}x |")
    text = "\n".join(lines) + "\n"
    return rows, loaders, text


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    rows, _, text = benchmark(args)
    if args.quick:
        print(text)
    else:
        RESULTS_FILE.publish(args.out or HERE / "results" / f"throughput-{rows[0]['trainer'].device.type}.md", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
