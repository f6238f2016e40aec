"""The stability doctor: cheap monitors of a run, and named diagnoses with their evidence and a remedy.

The monitors are logged with the losses at every `train.log_every` steps: D's accuracy on real and
fake batches and on real images held out from training, D's loss on training and held-out reals
against the same fakes, the gradient norms of G and D, an estimate of D's Lipschitz constant, the
diversity of the fixed-latent samples against that of real images, and how much of the real data those
samples cover and how densely (Naeem et al. 2020). Each diagnosis is a rule over the
logged records; the trainer prints a finding when its rule first fires, and `steadygan doctor RUN`
replays the same rules over a run's metrics.jsonl.
"""

from __future__ import annotations

import copy
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..config import Config, apply_overrides, is_override
from ..errors import ConfigError
from ..losses import LOSSES, AdversarialLoss
from ..models import check_config_networks
from ..registry import Registry
from ..sampling import generate
from ..technique import Phase, Technique
from ..validation import validate

WINDOW = 4  # consecutive logs a condition must hold for, so that one noisy batch never fires a rule
WARM_UP = 2 * WINDOW  # logs before the rules about the balance of G and D judge: an untrained G is plain
GROWTH = 1000  # |d_loss| this many times (its first logs' level + 1) is divergence: WGAN-GP's critic stays far below


@dataclass(frozen=True)
class Finding:
    rule: str
    step: int
    evidence: str
    remedy: str  # the overrides to try

    def line(self) -> str:
        return f"{self.rule} (step {self.step}): {self.evidence}. Try: {self.remedy}"


# records -> (evidence, remedies) when it fires; each remedy is overrides to try together, or plain advice.
Rule = Callable[[list[dict], Config], "tuple[str, list[str]] | None"]
RULES: Registry[Rule] = Registry("diagnosis")


def recent(records: list[dict], key: str, n: int = WINDOW, warm_up: int = WARM_UP) -> list[float]:
    """The last `n` logged values of `key`, or [] while fewer than max(n, warm_up) were logged."""
    values = [r[key] for r in records if key in r]
    return values[-n:] if len(values) >= max(n, warm_up) else []


@RULES.register("divergence")
def divergence(records: list[dict], config: Config) -> tuple[str, list[str]] | None:
    last = records[-1]
    remedy = [f"optim.g_lr={config.optim.g_lr / 10:g} optim.d_lr={config.optim.d_lr / 10:g}",
              "regularize.gradient_penalty=10"]
    if "rollback" in last:
        return f"NaN/inf weights or losses; rolled back to step {last['step']} ({last['rollback']:.0f} so far)", remedy
    losses = [k for k in ("d_loss", "g_loss") if k in last and not math.isfinite(last[k])]
    if losses:
        return f"{losses[0]} is {last[losses[0]]}", remedy
    earlier = [abs(r["d_loss"]) for r in records[:-1] if math.isfinite(r.get("d_loss", math.nan))]
    if len(earlier) < WINDOW:
        return None
    now, median, start = abs(last.get("d_loss", 0.0)), statistics.median(earlier), statistics.median(earlier[:WINDOW])
    if now > 100 * (median + 0.1):
        return f"d_loss {last['d_loss']:.3g} is over 100 times its median so far ({median:.3g})", remedy
    # A critic without a Lipschitz bound grows steadily rather than in one jump: its median grows along with it.
    if now > GROWTH * (start + 1):
        return f"d_loss {last['d_loss']:.3g} has grown over {GROWTH} times from its first logs ({start:.3g})", remedy
    return None


@RULES.register("d_overpowering")
def d_overpowering(records: list[dict], config: Config) -> tuple[str, list[str]] | None:
    real, fake = recent(records, "d_acc_real"), recent(records, "d_acc_fake")
    if real and fake and min(real) > 0.97 and min(fake) > 0.97:
        return ((f"D tells {statistics.mean(real):.0%} of reals and {statistics.mean(fake):.0%} of fakes apart over "
                 f"the last {WINDOW} logs, so G learns little from it"),
                [f"optim.d_lr={config.optim.d_lr / 4:g}", "loss.label_smoothing=one_sided",
                 "regularize.gradient_penalty=10", "model.spectral_norm=true"])
    return None


COLLAPSE_REMEDIES = ["model.packing=2", "model.minibatch_stddev=true", "loss.unrolled_steps=5", "optim.n_dis=5",
                     "regularize.diffaugment=color,translation,cutout"]
# Thresholds tuned on the labelled runs of bench/doctor.py (bench/results/doctor.md), where the modes are counted:
CELLS_FLOOR = 0.8  # points: reaching fewer of the reals' cells than this is fewer modes than a healthy run finds
COVERAGE_FLOOR = 0.3  # images: a healthy run's coverage stays above it once a quarter of the run is done
COVERAGE_DROP = 0.5  # images: below this share of a peak above the floor, modes G had found are lost
SPARSE = 0.05  # mean density below this: the samples are far from every real one (1: distributed as the reals)
JUDGE_AFTER = 0.25  # the share of the run after which coverage is judged: before, it swings as G finds the data


def stalled(records: list[dict], key: str) -> bool:
    """Whether `key` reached no new high in the last WINDOW logs: low coverage that still rises is a run on its
    way (an EMA of G lags G by thousands of steps), not a collapse."""
    values = [r[key] for r in records if key in r]
    return len(values) >= 2 * WINDOW and max(values[-WINDOW:]) <= max(values[-2 * WINDOW:-WINDOW])


def coverage_window(records: list[dict]) -> tuple[list[float], list[float], float] | None:
    """(coverage, density) of the last WINDOW logs and the peak coverage before them, once judged."""
    coverage, density = recent(records, "sample_coverage"), recent(records, "sample_density")
    if not coverage or not density:
        return None
    peak = max((r["sample_coverage"] for r in records[:-WINDOW] if "sample_coverage" in r), default=0.0)
    return coverage, density, peak


@RULES.register("mode_collapse")
def mode_collapse(records: list[dict], config: Config) -> tuple[str, list[str]] | None:
    # A freshly initialized G gives nearly one output too, and coverage swings while G finds the data: the
    # monitors are judged from a quarter of the run on, and low coverage only once it has stopped rising.
    # Points are judged by the cells they reach, images by coverage (the probe logs cells only for points).
    step = records[-1]["step"]
    if step >= JUDGE_AFTER * config.train.steps:
        cells = recent(records, "sample_cells")
        window = None if cells else coverage_window(records)
        if cells and max(cells) < CELLS_FLOOR and stalled(records, "sample_cells"):
            return ((f"the samples reach {cells[-1]:.0%} of the cells of the real data {step} steps into the run: "
                     "G has dropped modes"), COLLAPSE_REMEDIES)
        if window is not None:
            coverage, density, peak = window
            if peak >= COVERAGE_FLOOR and max(coverage) < COVERAGE_DROP * peak:
                return ((f"the samples cover {coverage[-1]:.0%} of the real data, down from {peak:.0%}: modes G "
                         f"had found are lost"), COLLAPSE_REMEDIES)
            if (max(coverage) < COVERAGE_FLOOR and statistics.mean(density) >= SPARSE
                    and stalled(records, "sample_coverage")):
                return ((f"the samples cover only {coverage[-1]:.0%} of the real data (density {density[-1]:.2f}) "
                         f"{step} steps into the run: G found some of its modes"), COLLAPSE_REMEDIES)
    diversity, duplicates = recent(records, "diversity"), recent(records, "near_duplicates")
    before = [r["diversity"] for r in records[:-WINDOW] if "diversity" in r]
    peak = max(before, default=0.0)
    if diversity and max(diversity) < 0.5 * peak and min(duplicates) > 0.5:
        return ((f"the fixed-latent samples differ {diversity[-1]:.0%} as much as real images do (down from "
                 f"{peak:.0%}) and {duplicates[-1]:.0%} of their pairs are near-duplicates"), COLLAPSE_REMEDIES)
    return None


@RULES.register("not_fitting")
def not_fitting(records: list[dict], config: Config) -> tuple[str, list[str]] | None:
    # Settled losses: G's loss moves less than a tenth of its level (plus a little) over the window, so that
    # the samples are not still on their way to the data.
    window, g_loss = coverage_window(records), recent(records, "g_loss")
    if window is None or not g_loss or records[-1]["step"] < JUDGE_AFTER * config.train.steps:
        return None
    _, density, _ = window
    swing, level = max(g_loss) - min(g_loss), statistics.mean(abs(v) for v in g_loss)
    if statistics.mean(density) < SPARSE and swing < 0.1 * level + 0.05:
        return ((f"the samples lie outside the real data's neighbourhoods (density {density[-1]:.3f}; 1 for "
                 f"samples like the reals) while the losses have settled (g_loss {g_loss[-1]:.3g})"),
                [f"optim.g_lr={config.optim.g_lr / 2:g} optim.d_lr={config.optim.d_lr / 2:g}",
                 "regularize.r1=1", "train.ema_decay=0.999", "train longer at a lower learning rate"])
    return None


@RULES.register("d_overfitting")
def d_overfitting(records: list[dict], config: Config) -> tuple[str, list[str]] | None:
    train, held = recent(records, "d_acc_seen"), recent(records, "d_acc_heldout")
    gaps = recent(records, "d_loss_gap")
    if train and held and min(t - h for t, h in zip(train, held, strict=True)) > 0.25:
        return ((f"D calls {statistics.mean(train):.0%} of training reals real but {statistics.mean(held):.0%} of "
                 f"held-out reals (held-out loss {gaps[-1] if gaps else math.nan:+.3g} above the training loss)"),
                ["regularize.diffaugment=color,translation,cutout", "regularize.r1=1", "more images"])
    return None


@RULES.register("vanishing_g_gradients")
def vanishing_g_gradients(records: list[dict], config: Config) -> tuple[str, list[str]] | None:
    norms = [r["g_grad_norm"] for r in records if "g_grad_norm" in r]
    if len(norms) < 2 * WINDOW:
        return None
    early = statistics.median(norms[:WINDOW])
    if early > 0 and max(norms[-WINDOW:]) < 1e-3 * early:
        loss = LOSSES.get(config.loss.name).vanishing_gradient_remedy
        return (f"G's gradient norm fell from {early:.3g} to {norms[-1]:.3g}",
                [f"loss.name={loss}", "model.spectral_norm=true", f"optim.d_lr={config.optim.d_lr / 4:g}"])
    return None


@RULES.register("oscillation")
def oscillation(records: list[dict], config: Config) -> tuple[str, list[str]] | None:
    values = recent(records, "g_loss", 3 * WINDOW, warm_up=0)
    if not values:
        return None
    steps = np.diff(values)
    turns = np.mean(np.sign(steps[1:]) != np.sign(steps[:-1]))
    swing, level = float(np.mean(np.abs(steps))), float(np.mean(np.abs(values)))
    if turns > 0.8 and swing > 0.5 * level + 0.05:
        return (f"g_loss turns direction at {turns:.0%} of logs, swinging {swing:.3g} around {np.mean(values):.3g}",
                [f"optim.g_lr={config.optim.g_lr / 2:g} optim.d_lr={config.optim.d_lr / 2:g}",
                 "optim.g_betas=[0.5,0.999]", "train.ema_decay=0.999"])
    return None


class Doctor:
    """Runs every rule on the records logged so far; each finding is reported once, when it first fires."""

    def __init__(self, config: Config):
        self.config = config
        self.records: list[dict] = []
        self.findings: dict[str, Finding] = {}

    def examine(self, record: dict) -> list[Finding]:
        self.records.append(record)
        new = []
        for name in RULES.names():
            if name not in self.findings:
                result = RULES.get(name)(self.records, self.config)
                if result is not None:
                    evidence, remedies = result
                    self.findings[name] = Finding(name, int(record["step"]), evidence,
                                                  self._usable(remedies))
                    new.append(self.findings[name])
        return new

    def _usable(self, remedies: list[str]) -> str:
        """The remedies this run's config accepts (a suggestion is always one steadygan would take), the
        first as the one to try."""
        usable = [remedy for remedy in remedies if accepts(self.config, remedy)]
        return usable[0] + (f" (or {', '.join(usable[1:])})" if len(usable) > 1 else "") if usable else "no setting"

    def replay(self, records: list[dict]) -> list[Finding]:
        self.records, self.findings = [], {}
        for record in records:
            self.examine(record)
        return list(self.findings.values())


def accepts(config: Config, remedy: str) -> bool:
    """Whether the overrides of a remedy would make a config steadygan takes (advice in words always is)."""
    words = remedy.split()
    if not all(is_override(word) for word in words):
        return True
    trial = copy.deepcopy(config)
    try:
        check_config_networks(validate(apply_overrides(trial, words)))
    except ConfigError:
        return False
    return True


def diagnose(records: list[dict], config: Config) -> list[Finding]:
    """Every rule that fires on a run's logged records, at the step it first fired."""
    return Doctor(config).replay(records)


def examine_run(run: str | Path) -> tuple[list[dict], list[Finding]]:
    """A run folder's logged records and the findings the rules make of them (`steadygan doctor`)."""
    from ..config import load_config
    from ..errors import CheckpointError
    from .metrics_log import read_records

    run = Path(run)
    if not (run / "config.yaml").is_file():
        raise CheckpointError(f"'{run}' is not a run folder (it has no config.yaml); give the folder training wrote")
    records = read_records(run / "metrics.jsonl")
    return records, diagnose(records, load_config(str(run / "config.yaml")))


def gradient_norm(module: torch.nn.Module) -> torch.Tensor:
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    return torch.nn.utils.get_total_norm(grads) if grads else torch.zeros(())


RealImages = Callable[[np.ndarray], tuple[torch.Tensor, torch.Tensor | None]]


class Monitors(Technique):
    """The monitors measured at log time on fixed inputs (the first `doctor.monitor_samples` fixed latents,
    training images and held-out images), so that they never draw from the training RNGs."""

    name = "monitors"
    keys = ("doctor.monitor_samples", "doctor.holdout", "doctor.coverage_samples")
    phases = (Phase.LOG,)

    def __init__(self, n: int, heldout: np.ndarray, trained: np.ndarray, z: torch.Tensor, labels: torch.Tensor | None,
                 real_images: RealImages, coverage: CoverageProbe | None = None):
        self.heldout, self.train = heldout[:n], trained[:n]
        self.z, self.labels = z[:n], (None if labels is None else labels[:n])
        self.real_images = real_images  # data indices -> images as D sees them, and their labels
        self.coverage = coverage

    def measure(self, G: nn.Module, D: nn.Module, loss: AdversarialLoss, device: torch.device,
                sampler: nn.Module | None = None) -> dict[str, float]:
        """`sampler`: the generator the run samples from (the EMA of G), whose coverage is measured."""
        # D judges as in its training steps (batch statistics of a batch of reals, or of fakes: running
        # statistics mix the two); its buffers are restored, so that monitoring never changes training.
        saved = [buffer.clone() for buffer in D.buffers()]
        try:
            fake = generate(G, self.z, self.labels).to(device)
            real, real_labels = self.real_images(self.train)
            fake_labels = None if self.labels is None else self.labels.to(device)
            with torch.no_grad():
                real_out, fake_out = D(real, real_labels), D(fake, fake_labels)
            diversity, duplicates = pairwise_diversity(fake, real)
            values = {"diversity": diversity, "near_duplicates": duplicates,
                      "d_lipschitz": lipschitz_estimate(D, real, fake, real_labels)}
            if len(self.heldout):
                held, held_labels = self.real_images(self.heldout)
                with torch.no_grad():
                    held_out = D(held, held_labels)
                    n = min(len(held_out), len(real_out), len(fake_out))  # a pairing loss pairs them one to one
                    train_loss = loss.d_loss(real_out[:n], fake_out[:n])
                    held_loss = loss.d_loss(held_out[:n], fake_out[:n])
                values["d_acc_seen"] = float(loss.accuracy(real_out, fake_out)[0])
                values["d_acc_heldout"] = float(loss.accuracy(held_out, fake_out)[0])
                values["d_loss_gap"] = float(held_loss - train_loss)
            if self.coverage is not None:
                values.update(self.coverage.measure(G if sampler is None else sampler))
        finally:
            with torch.no_grad():
                for buffer, value in zip(D.buffers(), saved, strict=True):
                    buffer.copy_(value)
        return values


class CoverageProbe:
    """Density and coverage (Naeem et al. 2020) of fixed real samples by the samples of fixed latents, with
    k-nearest-neighbour balls around the reals: coverage is the share of real balls that hold a sample (it
    falls when G drops modes, even while its samples spread along a curve), density the mean number of real
    balls a sample lies in, over k (near 0 when samples are far from every real one).

    In a few dimensions coverage also falls when the samples of every mode sit a little off its reals (the
    small balls of tight modes miss them: a ring run with all 8 modes at 94% high quality covered 5%), so
    there modes are counted coarsely too: the reals are split into `CELLS` k-means cells, and
    `sample_cells` is the share of cells with a sample within the cell's reach of its centre (twice the distance
    of its farthest real, at least the median of those): a dropped mode leaves its cells empty whatever the
    samples do inside the others, and samples strung between modes reach no cell.

    Features need no weights: 2-D points as they are; images through a fixed random projection of their
    pixels to `PROJECTED` dimensions, which keeps distances between images roughly (Johnson-Lindenstrauss:
    within some tens of percent at 64 dimensions) and changes with nothing that trains."""

    K = 5  # Naeem et al.'s k
    PROJECTED = 64
    CELLS = 32  # k-means cells of the reals: more than the modes of the 2-D mixtures, a few reals each
    KMEANS_STEPS = 20
    REACH = 2.0  # times a cell's extent: samples a little off a tight mode still reach its cells
    CELL_DIMENSIONS = 8  # cells for points of at most this many dimensions: in more, distances concentrate and
    # every sample reaches every cell (stacked-MNIST samples of 49 modes and of 962 both reach all of them)

    def __init__(self, reals: np.ndarray, z: torch.Tensor, labels: torch.Tensor | None, real_images: RealImages,
                 seed: int = 0):
        self.reals, self.z, self.labels, self.real_images, self.seed = reals, z, labels, real_images, seed
        self._real_features: dict[tuple[int, ...], torch.Tensor] = {}  # by image shape: PGGAN's grows
        self._cells: dict[tuple[int, ...], tuple[torch.Tensor, torch.Tensor] | None] = {}  # centres, reaches
        self._projections: dict[int, torch.Tensor] = {}

    @classmethod
    def build(cls, n: int, heldout: np.ndarray, trained: np.ndarray, z_dim: int, num_classes: int,
              real_images: RealImages, seed: int) -> CoverageProbe | None:
        """n reals (held-out first, then trained-on) and n latents of its own; None when n is 0 or there are
        too few reals for k-nearest-neighbour balls."""
        from ..sampling import sample_latents

        reals = np.concatenate([heldout, trained])[:n]
        if n == 0 or len(reals) <= cls.K:
            return None
        z = sample_latents(len(reals), z_dim, torch.Generator().manual_seed(seed + 2))
        labels = torch.arange(len(reals)) % num_classes if num_classes else None
        return cls(reals, z, labels, real_images, seed)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.detach().flatten(1).float().cpu()
        if flat.shape[1] <= self.PROJECTED:
            return flat
        dim = flat.shape[1]
        if dim not in self._projections:
            rng = torch.Generator().manual_seed(self.seed + dim)
            self._projections[dim] = torch.randn(dim, self.PROJECTED, generator=rng) / math.sqrt(self.PROJECTED)
        return flat @ self._projections[dim]

    def measure(self, G: nn.Module) -> dict[str, float]:
        from ..metrics.scores import density_coverage

        samples = generate(G, self.z, self.labels)
        shape = tuple(samples.shape[1:])
        if shape not in self._real_features:
            self._real_features[shape] = self.features(self.real_images(self.reals)[0])
            low = math.prod(shape) <= self.CELL_DIMENSIONS
            self._cells[shape] = self.cells(self._real_features[shape]) if low else None
        features = self.features(samples)
        density, coverage = density_coverage(self._real_features[shape], features, self.K)
        values = {"sample_coverage": coverage, "sample_density": density}
        cells = self._cells[shape]
        if cells is not None:
            centres, reach = cells
            values["sample_cells"] = (torch.cdist(features, centres) <= reach).any(dim=0).float().mean().item()
        return values

    def cells(self, reals: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """k-means of the reals (Lloyd's steps from a seeded k-means++ start, which puts a centre in every
        well-separated mode): the centres of the cells that hold reals and each cell's reach."""
        generator = torch.Generator().manual_seed(self.seed)
        count = min(self.CELLS, len(reals) // 4)
        chosen = [int(torch.randint(len(reals), (1,), generator=generator))]
        nearest = torch.cdist(reals, reals[chosen]).squeeze(1)  # each real's distance to its nearest chosen one
        for _ in range(count - 1):
            chosen.append(int(torch.multinomial(nearest**2 + 1e-12, 1, generator=generator)))
            nearest = torch.minimum(nearest, torch.cdist(reals, reals[chosen[-1:]]).squeeze(1))
        centres = reals[chosen].clone()
        for _ in range(self.KMEANS_STEPS):
            member = torch.cdist(reals, centres).argmin(dim=1)
            for j in range(count):
                if (member == j).any():  # an emptied cell keeps its centre, and is dropped below
                    centres[j] = reals[member == j].mean(dim=0)
        distance, member = torch.cdist(reals, centres).min(dim=1)
        held = member.unique()
        farthest = torch.stack([distance[member == j].max() for j in held])
        return centres[held], self.REACH * farthest.clamp_min(farthest.median())


def pairwise_diversity(fake: torch.Tensor, real: torch.Tensor) -> tuple[float, float]:
    """(mean pairwise distance of the fakes / that of the reals, share of fake pairs closer than a tenth
    of the reals' mean distance): 1 and 0 for samples as varied as the data, 0 and 1 for one output."""
    def distances(x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1).float()
        d = torch.cdist(flat, flat)
        return d[~torch.eye(len(flat), dtype=torch.bool, device=d.device)]

    real_mean = distances(real).mean().clamp_min(1e-12)
    fake_d = distances(fake)
    return float(fake_d.mean() / real_mean), float((fake_d < 0.1 * real_mean).float().mean())


def lipschitz_estimate(D: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor,
                       labels: torch.Tensor | None) -> float:
    """The largest |grad_x D(x)| over points between real and fake images: a lower bound of D's
    Lipschitz constant (1 is what WGAN-GP and spectral norm aim at)."""
    n = min(len(real), len(fake))
    t = torch.rand(n, *([1] * (real.dim() - 1)), generator=torch.Generator().manual_seed(0)).to(real.device)
    x = torch.lerp(fake[:n], real[:n], t).detach().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(D(x, None if labels is None else labels[:n]).sum(), x)
    return float(grad.flatten(1).norm(dim=1).max())
