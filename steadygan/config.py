"""The run configuration: typed sections loaded from a YAML recipe, overridden by `section.key=value`.

This module is the schema (every key's type, default and accepted values) and its parsing; it imports
no other part of steadygan. An unknown key or a value of the wrong type is a `ConfigError` on load;
`check_values` checks ranges and fixed choices. Choices that name registered units (losses, optimizers,
...) and the checks that span keys belong to the units: see `steadygan.validation`.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from .errors import ConfigError

LABEL_MODES = ("auto", "none", "folders", "csv")


@dataclass(frozen=True)
class Bounds:
    """The values a numeric setting accepts: between `low` and `high`, each end included unless open."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    power_of_two: bool = False

    def admits(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        if self.high is not None and (value >= self.high if self.high_open else value > self.high):
            return False
        return not self.power_of_two or (value >= 1 and int(value) & (int(value) - 1) == 0)

    def describe(self) -> str:
        low, high = (f"{v:g}" if isinstance(v, float) else str(v) for v in (self.low, self.high))
        if self.power_of_two:
            return f"a power of two from {low} to {high}"
        if self.low == 0 and self.low_open and self.high is None:
            return "positive"
        if self.high is None:
            return f"at least {low}"
        return f"in {'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"


POSITIVE = Bounds(0, None, low_open=True)  # finite floats above zero
NON_NEGATIVE = Bounds(0)
FRACTION = Bounds(0, 1, high_open=True)  # betas, decays and shares: [0, 1)
MANY = 10**9  # the upper bound of counts: far beyond any run, far below any overflow
MAX_EVAL_IMAGES = 200_000  # images per evaluation: KID and precision/recall keep every image's features


def setting(default: Any, bounds: Bounds | None = None, choices: tuple = ()) -> Any:
    """A config field with the values it accepts, checked by `check_values` (floats are always finite)."""
    return field(default=default, metadata={"bounds": bounds, "choices": choices})


def count(default: int, low: int = 1, high: int = MANY) -> Any:
    return setting(default, Bounds(low, high))


def resolution(default: int) -> Any:
    return setting(default, Bounds(4, 1024, power_of_two=True))


@dataclass
class DataConfig:
    # a folder, a .zip, MNIST IDX files, a built-in: digits, ring8, grid25, or stacked:digits /
    # stacked:<MNIST folder> (three digits as RGB, 1,000 modes)
    source: str = "digits"
    resolution: int = resolution(16)  # images are resized (shorter side) and center-cropped to this size
    channels: int = setting(0, choices=(0, 1, 3))  # 0: as the data gives (1 for digits and MNIST, 3 for image files)
    labels: str = setting("auto", choices=LABEL_MODES)  # class labels: auto, none, sub-folders or a labels.csv
    split: str = ""  # keep only the labels.csv rows of this split; "" keeps all
    hflip: bool = False  # random horizontal flips of real images
    cache_dir: str = ""  # "" uses $STEADYGAN_CACHE or ~/.cache/steadygan
    workers: int = count(-1, low=-1, high=64)  # batch threads during a step; -1: one per 4 CPU cores, at most 4


@dataclass
class ModelConfig:
    arch: str = "dcgan"  # the G/D architecture (steadygan techniques lists the registered ones)
    z_dim: int = count(100, high=16384)  # dimensions of G's latent vector z ~ N(0, I)
    g_width: int = count(64, high=16384)  # channel width (hidden units for mlp; the widest layers for pggan) of G
    d_width: int = count(64, high=16384)  # channel width of D
    hidden_layers: int = count(2, high=64)  # mlp: hidden layers; r3gan: residual blocks per stage (CIFAR-10: 2)
    activation: str = "relu"  # mlp only: relu | leaky_relu | tanh (VEEGAN's 2-D nets)
    g_batchnorm: bool = False  # mlp only: batch norm before each hidden activation of G (PacGAN's 2-D G)
    conditional: bool = False  # class-conditional G (conditional BN) and projection D
    spectral_norm: bool = False  # spectral normalization of every D layer
    g_spectral_norm: bool = False  # spectral normalization of every G layer (SAGAN, BigGAN)
    sn_power_iterations: int = count(1, high=100)  # power iterations per forward pass estimating sigma
    init: str = "default"  # default (each architecture's published init) | orthogonal (Saxe et al. 2014)
    # D's normalization where the architecture has one (dcgan): batch | none; auto is batch norm, or none
    # under spectral norm, as in SN-GAN's comparison (Miyato et al. 2018)
    d_norm: str = setting("auto", choices=("auto", "batch", "none"))
    minibatch_discrimination: bool = False  # Salimans et al. 2016: D sees per-sample closeness to the batch
    mbd_kernels: int = count(100, high=4096)  # minibatch discrimination: B kernels ...
    mbd_kernel_dim: int = count(5, high=1024)  # ... of C dimensions each
    mbd_group: int = count(0, low=0, high=65536)  # samples compared with each other; 0 = the whole batch
    minibatch_stddev: bool = False  # Karras et al. 2018: D sees the batch's feature standard deviation
    mbstd_group: int = count(4, high=65536)  # samples per minibatch-stddev group
    # std (the paper's layer) | variance (the form of its released code)
    mbstd_statistic: str = setting("std", choices=("std", "variance"))
    mapping_layers: int = count(8, high=64)  # stylegan/stylegan2: fully connected layers of the mapping network
    # stylegan/stylegan2: channels at resolution r are min(width, channel_base / r); 0 is 64 x the width (the
    # full width up to 64x64, the official configs at 512 px and above; their 'auto' below 512 px halves it)
    channel_base: int = count(0, low=0, high=2**24)
    # resolutions at which G and D have a SAGAN self-attention block (Zhang et al. 2019: 32); sngan_resnet and
    # biggan; [] for none
    attention: tuple[int, ...] = setting((), Bounds(4, 1024, power_of_two=True))
    # biggan: dimensions of the shared class embedding that feeds every conditional batch norm of G
    shared_dim: int = count(128, high=4096)
    # biggan: split z into one chunk for the input layer and one per G block, each joined to the class
    # embedding (Brock et al.'s hierarchical latent)
    hierarchical_z: bool = True
    # r3gan: groups of each grouped 3x3 convolution (the ResNeXt cardinality) are channels / this many
    group_width: int = count(16, high=4096)
    # PacGAN (Lin et al. 2018): D judges packs of this many samples, joined on the channel (or feature) axis
    packing: int = count(1, high=64)
    # stride of D's first convolution (sngan_cnn, sngan_resnet, dcgan): 2 halves D's cost at 64 px and up
    d_stem_stride: int = count(1, high=2)


@dataclass
class LossConfig:
    name: str = "ns"  # the adversarial loss (steadygan techniques lists them with their keys)
    label_smoothing: str = "none"  # none | one_sided (real 0.9) | two_sided (real 0.9, fake 0.1); BCE losses
    g_objective: str = "adversarial"  # adversarial | feature_matching (Salimans et al. 2016)
    unrolled_steps: int = count(0, low=0, high=100)  # K look-ahead D updates G's loss is taken through (Metz et al.)
    began_gamma: float = setting(0.5, Bounds(0, 1))  # BEGAN diversity ratio
    began_lambda_k: float = setting(0.001, Bounds(0, 1))  # BEGAN learning rate of the equilibrium term k_t


@dataclass
class OptimConfig:
    batch_size: int = count(64, high=65536)  # images per D and per G step (over all processes)
    g_lr: float = setting(2e-4, POSITIVE)  # G's learning rate (TTUR: a lower one than D's)
    d_lr: float = setting(2e-4, POSITIVE)  # D's learning rate
    g_betas: tuple[float, float] = setting((0.5, 0.999), FRACTION)  # Adam's (beta1, beta2) for G
    d_betas: tuple[float, float] = setting((0.5, 0.999), FRACTION)  # Adam's (beta1, beta2) for D
    n_dis: int = count(1, high=1000)  # D steps per G step
    optimizer: str = "adam"  # adam | rmsprop (WGAN's; betas are ignored)
    lr_decay: str = "none"  # none | linear (to zero at the last step)
    lr_decay_start: float = setting(0.0, FRACTION)  # fraction of train.steps at the full rate before the decay
    # R3GAN's cosine ramps (Huang et al. 2024) over this many thousand G images (0: off); the rates, Adam's
    # beta2 and the R1/R2 gammas go from their configured values to the ramp_* ones, then stay there
    ramp_kimg: float = setting(0.0, NON_NEGATIVE)
    ramp_lr_share: float = setting(0.25, Bounds(0, 1, low_open=True))  # the rates at the end, as a share (R3GAN: 0.25)
    ramp_beta2: float = setting(0.99, FRACTION)  # Adam's beta2 at the end of the ramp (R3GAN: 0.9 -> 0.99)
    ramp_gamma_share: float = setting(0.1, Bounds(0, 1, low_open=True))  # R1/R2 gammas at the end, as a share (0.1)


@dataclass
class RegularizeConfig:
    gradient_penalty: float = setting(0.0, NON_NEGATIVE)  # lambda of WGAN-GP on real/fake interpolates (10)
    gp_one_sided: bool = False  # penalise only gradient norms above 1
    drift: float = setting(0.0, NON_NEGATIVE)  # epsilon of PGGAN's eps * D(x)^2 on reals (0.001)
    r1: float = setting(0.0, NON_NEGATIVE)  # gamma of R1, gamma/2 * |grad D(real)|^2 (Mescheder et al. 2018)
    r2: float = setting(0.0, NON_NEGATIVE)  # gamma of R2, the same on fakes
    r1_interval: int = count(1, high=10_000)  # D steps between R1/R2 terms, each weighted by it (StyleGAN2: 16)
    lecam: float = setting(0.0, NON_NEGATIVE)  # lambda of LeCam's regularization (Tseng et al. 2021: 0.3 for CIFAR)
    lecam_decay: float = setting(0.99, FRACTION)  # decay of LeCam's moving averages of D's outputs
    # D updates during which LeCam's averages follow the latest batch (decay 0), as in the reference code (1000)
    lecam_start: int = count(1000, low=0)
    # consistency regularization (Zhang et al. 2020): lambda of |D(x) - D(T(x))|^2 on reals, T a random flip and
    # translation (CR: 10)
    cr: float = setting(0.0, NON_NEGATIVE)
    cr_fake: float = setting(0.0, NON_NEGATIVE)  # the same on fakes: balanced CR with cr (Zhao et al. 2021: 10 and 10)
    zcr_dis: float = setting(0.0, NON_NEGATIVE)  # latent CR: lambda of |D(G(z)) - D(G(z + dz))|^2 in D's loss (20)
    zcr_gen: float = setting(0.0, NON_NEGATIVE)  # latent CR: lambda of -|G(z) - G(z + dz)|^2 in G's loss (0.5)
    zcr_noise: float = setting(0.05, POSITIVE)  # latent CR: the standard deviation of dz
    ortho_g: float = setting(0.0, NON_NEGATIVE)  # beta of BigGAN's orthogonal regularization on G (1e-4)
    ortho_d: float = setting(0.0, NON_NEGATIVE)  # beta of BigGAN's orthogonal regularization on D
    weight_clip: float = setting(0.0, NON_NEGATIVE)  # c of WGAN's weight clipping of D (0.01)
    diffaugment: str = ""  # DiffAugment policy for D's inputs, e.g. color,translation,cutout
    # ADA (Karras et al. 2020): off | adaptive (p steered by D's overfitting) | fixed (p = ada_p throughout)
    ada: str = setting("off", choices=("off", "adaptive", "fixed"))
    ada_p: float = setting(0.0, Bounds(0, 1))  # ADA's augmentation probability at the start (adaptive) or throughout
    ada_target: float = setting(0.6, Bounds(0, 1))  # the r_t = E[sign(D(real))] adaptive ADA steers towards
    ada_kimg: int = count(500, high=100_000)  # thousands of images in which adaptive ADA's p can go from 0 to 1
    ada_interval: int = count(4, high=10_000)  # D steps between adjustments of ADA's p
    # style-based G: probability that a training batch takes its styles from two latents, crossing over at a
    # random layer (StyleGAN's mixing regularization: 0.9)
    style_mixing: float = setting(0.0, Bounds(0, 1))
    path_length: float = setting(0.0, NON_NEGATIVE)  # weight of StyleGAN2's path-length regularization of G (2)
    pl_interval: int = count(4, high=10_000)  # G steps between path-length terms, each weighted by it (StyleGAN2: 4)
    pl_decay: float = setting(0.01, Bounds(0, 1, low_open=True))  # speed of the running mean path length
    pl_batch_shrink: int = count(2, high=1024)  # the path-length term uses batch_size / this latents


@dataclass
class GrowthConfig:
    """Progressive growing (model.arch=pggan): 4x4 first, then each doubling faded in and stabilized."""

    start_resolution: int = resolution(4)  # the resolution G and D start at
    fade_images: int = count(800_000, low=0)  # real images shown while alpha rises linearly from 0 to 1
    stabilize_images: int = count(800_000)  # images at the new resolution with alpha 1 (the last: to the end)
    # resolution -> batch size; other resolutions use optim.batch_size
    batch_sizes: dict[int, int] = field(default_factory=dict, metadata={"bounds": Bounds(1, 65536)})
    reset_optimizer: bool = True  # fresh Adam moments when a new resolution starts fading in (the paper's code)


@dataclass
class DoctorConfig:
    """The stability doctor's monitors and the rollback that survives divergence."""

    holdout: float = setting(0.02, FRACTION)  # share of the real images (at most 1,000) kept from training
    monitor_samples: int = count(64, high=4096)  # fixed latents and real images the monitors score at every log
    coverage_samples: int = count(256, low=0, high=4096)  # reals and samples of the coverage monitor (0: off)
    rollback: bool = True  # on NaN/inf: back to the last checkpoint with lower learning rates
    rollback_lr_factor: float = setting(0.5, Bounds(0, 1, low_open=True, high_open=True))  # lr x this per rollback
    max_rollbacks: int = count(3, low=0, high=100)  # then training stops with an error


@dataclass
class TrainConfig:
    steps: int = count(2000)  # G updates
    seed: int = count(0, low=0, high=2**31 - 2)  # of every random choice: weights, latents, data order
    ema_decay: float = setting(0.999, FRACTION)  # EMA of G's weights; 0 turns it off
    ema_start: int = count(0, low=0)  # G step at which the EMA starts averaging (a plain copy before)
    # half-life of the EMA in thousands of G's images (StyleGAN2: 10); 0 uses ema_decay instead
    ema_kimg: float = setting(0.0, NON_NEGATIVE)
    # with ema_kimg: the half-life is at most this share of the images so far (StyleGAN2-ADA: 0.05); 0: none
    ema_rampup: float = setting(0.0, Bounds(0, 1))
    # batches of the EMA's own outputs (of optim.batch_size) that set its batch-norm statistics before it
    # samples (BigGAN's standing statistics); 0 copies G's, which belong to G's weights, not their average
    ema_standing_stats: int = count(8, low=0)
    out_dir: str = ""  # the run folder; "" makes a new one, runs/NNNNN-<name>
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    log_every: int = count(25, low=0)  # G steps between logs (0: none), and the other intervals below
    sample_every: int = count(500, low=0)  # G steps between sample grids (samples/step-NNNNNN.png)
    checkpoint_every: int = count(500, low=0)  # G steps between checkpoints (checkpoints/last.safetensors)
    num_samples: int = count(64, high=4096)  # images in each sample grid (fixed latents)
    eval_every: int = count(0, low=0)  # G steps between evaluations of the EMA G (0: none); the best by FID is kept
    eval_metrics: str = "fid"  # comma-separated: fid, kid, is, pr, dc, modes
    eval_n: int = count(5000, low=2, high=MAX_EVAL_IMAGES)  # generated images per evaluation
    eval_extractor: str = "auto"  # auto | inception | classifier:NAME_OR_FILE
    # the real images evaluations compare with: a folder, zip or data source ("" is the training data); a
    # larger set than the one trained on shows a G that memorises
    eval_real: str = ""
    precision: str = "auto"  # auto (bf16 on GPUs that have it, else fp16; fp32 on CPUs) | fp32 | bf16 | fp16
    # auto (channels_last on GPUs) | channels_last | contiguous
    memory_format: str = setting("auto", choices=("auto", "channels_last", "contiguous"))
    compile: bool = False  # torch.compile of G's and D's forward passes (pays off on long GPU runs)


@dataclass
class Config:
    """A run's whole configuration: one section per field, each a dataclass of keys with their defaults."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    regularize: RegularizeConfig = field(default_factory=RegularizeConfig)
    growth: GrowthConfig = field(default_factory=GrowthConfig)
    doctor: DoctorConfig = field(default_factory=DoctorConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {
            f.name: {k: list(v) if isinstance(v, tuple) else v
                     for k, v in dataclasses.asdict(getattr(self, f.name)).items()}
            for f in dataclasses.fields(self)
        }

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


SECTIONS: dict[str, Any] = get_type_hints(Config)  # section name -> its dataclass


def differing_settings(configs: list[Config], skip: Iterable[str] = ()) -> list[tuple[str, list[Any]]]:
    """Each "section.key" whose value is not the same in all `configs` (those in `skip` left out), with
    its value in each."""
    dicts = [config.to_dict() for config in configs]
    rows = []
    for section, values in dicts[0].items():
        for key in values:
            column = [d[section][key] for d in dicts]
            if f"{section}.{key}" not in skip and any(value != column[0] for value in column):
                rows.append((f"{section}.{key}", column))
    return rows


@cache
def _comments() -> dict[str, str]:
    """"section.key" -> the comment that documents it in this module's schema (the full-line comments just
    above it, then the one on its line), so that help text is written once, beside the key."""
    classes = {section.__name__: name for name, section in SECTIONS.items()}
    found: dict[str, str] = {}
    section: str | None = None
    above: list[str] = []
    for line in Path(__file__).read_text().splitlines():
        if match := re.match(r"class (\w+)", line):
            section, above = classes.get(match[1]), []
        elif section and (match := re.match(r"    # (.*)", line)):
            above.append(match[1])
        elif section and (match := re.match(r"    (\w+): [^#]*(?:#\s*(.*))?$", line)):
            found[f"{section}.{match[1]}"] = " ".join([*above, match[2] or ""]).strip()
            above = []
    return found


def describe_key(key: str) -> str:
    """One line of help for a "section.key": its type, default, accepted values and documentation."""
    section, name = key.split(".")
    values = SECTIONS[section]()
    entry = next(f for f in dataclasses.fields(values) if f.name == name)
    bounds, choices = entry.metadata.get("bounds"), entry.metadata.get("choices")
    accepted = (f", one of {', '.join(map(str, choices))}" if choices
                else f", {bounds.describe()}" if bounds is not None else "")
    kind = _describe_type(get_type_hints(type(values))[name])
    return f"{key} = {getattr(values, name)!r} ({kind}{accepted}): {_comments().get(key, '')}".rstrip(": ")


def _is_list(expected: Any) -> bool:
    """Whether a type is a list of any length (tuple[int, ...]) rather than a fixed-size tuple."""
    return getattr(expected, "__origin__", None) is tuple and expected.__args__[-1] is Ellipsis


def _describe_type(expected: Any) -> str:
    if _is_list(expected):
        return "a number or a list of numbers such as [16, 32]"
    if getattr(expected, "__origin__", None) is tuple:
        return f"a list of {len(expected.__args__)} numbers such as [0.5, 0.999]"
    if getattr(expected, "__origin__", None) is dict:
        return "a mapping such as {32: 64, 64: 32}"
    return {bool: "true or false", int: "an integer", float: "a number", str: "text"}[expected]


def _finite(value: float, key: str) -> float:
    if not math.isfinite(value):
        raise ConfigError(f"config key '{key}' is {value}; give a finite number")
    return value


def _coerce(value: Any, expected: Any, key: str) -> Any:
    """Check a value read from YAML or JSON against the annotation `expected`; ints are accepted where floats
    are. Text values (command-line overrides) go through `_from_text` instead."""
    def wrong() -> ConfigError:
        return ConfigError(f"config key '{key}' expects {_describe_type(expected)}, got {value!r}")

    if expected is bool:
        if not isinstance(value, bool):
            raise wrong()
        return value
    if expected is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong()
        return value
    if expected is float:
        if isinstance(value, str):  # YAML 1.1 reads 2e-4 (no dot) as text
            return _from_text(value, float, key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong()
        return _finite(float(value), key)
    if expected is str:
        if not isinstance(value, str):
            raise wrong()
        return value
    if getattr(expected, "__origin__", None) is dict:
        key_type, value_type = expected.__args__
        if not isinstance(value, dict):
            raise wrong()
        coerced = {}
        for k, v in value.items():  # JSON (checkpoint metadata) turns integer keys into text
            typed = _from_text(k, key_type, key) if isinstance(k, str) else k
            coerced[_coerce(typed, key_type, key)] = _coerce(v, value_type, key)
        return coerced
    if _is_list(expected):
        items = value if isinstance(value, (list, tuple)) else [value]  # one number is a list of one
        return tuple(_coerce(v, expected.__args__[0], key) for v in items)
    if getattr(expected, "__origin__", None) is tuple:
        parts = expected.__args__
        if not isinstance(value, (list, tuple)) or len(value) != len(parts):
            raise wrong()
        return tuple(_coerce(v, t, key) for v, t in zip(value, parts, strict=True))
    raise TypeError(f"unsupported config type {expected!r}")


BOOLEAN_WORDS = {"true": True, "yes": True, "on": True, "1": True,
                 "false": False, "no": False, "off": False, "0": False}


def _scalar_from_text(text: str, expected: Any) -> Any:
    """A bool, int or float from text; ValueError when the text is none."""
    plain = text.strip()
    if expected is not bool:
        return expected(plain)
    if plain.lower() not in BOOLEAN_WORDS:
        raise ValueError(f"{text!r} is not a boolean")
    return BOOLEAN_WORDS[plain.lower()]


def _from_text(text: str, expected: Any, key: str) -> Any:
    """A value typed on a command line, read by the type the schema gives its key: text stays exactly as
    typed (`photos #1` is a folder name, not YAML with a comment); numbers, booleans, lists of numbers
    ([0.5, 0.99] or 0.5,0.99) and mappings ({32: 64} or 32:64) are parsed as such."""
    if expected is str:
        return text
    origin = getattr(expected, "__origin__", None)
    plain = text.strip()
    inner = plain[1:-1] if plain[:1] + plain[-1:] in ("[]", "()", "{}") else plain
    items = [item for item in inner.split(",") if item.strip()]
    try:
        if _is_list(expected):
            value: Any = [_scalar_from_text(item, expected.__args__[0]) for item in items]
        elif origin is tuple:
            if len(items) != len(expected.__args__):
                raise ValueError(text)
            value = [_scalar_from_text(item, t) for item, t in zip(items, expected.__args__, strict=True)]
        elif origin is dict:
            pairs = [item.split(":") for item in items]
            if any(len(pair) != 2 for pair in pairs):
                raise ValueError(text)
            value = {_scalar_from_text(k, expected.__args__[0]): _scalar_from_text(v, expected.__args__[1])
                     for k, v in pairs}
        else:
            value = _scalar_from_text(text, expected)
    except ValueError:
        raise ConfigError(f"config key '{key}' expects {_describe_type(expected)}, got {text!r}") from None
    return _coerce(value, expected, key)


def _field_type(config: Config, section: str, key: str) -> Any:
    if section not in SECTIONS:
        raise ConfigError(f"unknown config section '{section}'; valid sections: {', '.join(SECTIONS)}")
    hints = get_type_hints(type(getattr(config, section)))
    if key not in hints:
        raise ConfigError(
            f"unknown config key '{section}.{key}'; valid keys in '{section}': {', '.join(hints)}"
        )
    return hints[key]


def _set(config: Config, section: str, key: str, value: Any) -> None:
    expected = _field_type(config, section, key)
    setattr(getattr(config, section), key, _coerce(value, expected, f"{section}.{key}"))


def set_from_text(config: Config, section: str, key: str, text: str) -> Config:
    """Set one key from a command-line value, typed by the schema."""
    expected = _field_type(config, section, key)
    setattr(getattr(config, section), key, _from_text(text, expected, f"{section}.{key}"))
    return config


def from_dict(values: Any, base: Config | None = None) -> Config:
    """Apply a nested mapping {section: {key: value}} onto `base` (defaults when None)."""
    config = base if base is not None else Config()
    if not isinstance(values, dict):
        raise ConfigError(f"a config must be a mapping of sections, got {type(values).__name__}")
    for section, entries in values.items():
        if not isinstance(entries, dict):
            raise ConfigError(f"config section '{section}' must be a mapping of key: value")
        for key, value in entries.items():
            _set(config, str(section), str(key), value)
    return config


def parse_override(text: str) -> tuple[str, str, str]:
    """'optim.d_lr=4e-4' -> ('optim', 'd_lr', '4e-4'): the value stays text until its key's type reads it."""
    name, sep, raw = text.partition("=")
    section, dot, key = name.strip().partition(".")
    if not sep or not dot or not key:
        raise ConfigError(f"override {text!r} is not of the form section.key=value (e.g. optim.d_lr=4e-4)")
    return section, key, raw


def is_override(text: str) -> bool:
    """Whether a command-line word has the form section.key=value."""
    name = text.partition("=")[0]
    return "=" in text and not text.startswith("-") and name.count(".") == 1 and name.replace(".", "_").isidentifier()


def apply_overrides(config: Config, overrides: Iterable[str]) -> Config:
    for text in overrides:
        set_from_text(config, *parse_override(text))
    return config


def recipe_names() -> list[str]:
    folder = resources.files("steadygan") / "recipes"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def recipe_path(name_or_path: str) -> Path:
    """A recipe by built-in name (`sngan`) or as a path to a YAML file."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ConfigError(f"recipe file '{path}' does not exist")
        return path
    candidate = Path(str(resources.files("steadygan") / "recipes" / f"{name_or_path}.yaml"))
    if not candidate.is_file():
        raise ConfigError(
            f"unknown recipe '{name_or_path}'; choose one of: {', '.join(recipe_names())}, or a .yaml path"
        )
    return candidate


MAX_RECIPE_BYTES = 2**20


def load_yaml(path: Path) -> dict[str, Any]:
    try:
        if path.stat().st_size > MAX_RECIPE_BYTES:
            raise ConfigError(f"recipe '{path}' is {path.stat().st_size:,} bytes; a recipe is a short YAML file")
        values = yaml.safe_load(path.read_bytes().decode("utf-8")) or {}
    except UnicodeDecodeError as exc:
        raise ConfigError(f"recipe '{path}' is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise ConfigError(f"recipe '{path}' is not valid YAML: {str(exc).splitlines()[0]}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read recipe '{path}' ({exc.strerror or exc})") from None
    return values


BY_RESOLUTION = "by_resolution"  # a recipe's table of settings per data.resolution
EXTENDS = "extends"  # the recipe a recipe starts from


def _merged(base: dict[Any, Any], over: dict[Any, Any]) -> dict[Any, Any]:
    """`over` on top of `base`, mappings merged key by key at every depth."""
    merged = dict(base)
    for key, value in over.items():
        both = isinstance(value, dict) and isinstance(base.get(key), dict)
        merged[key] = _merged(base[key], value) if both else value
    return merged


def recipe_values(recipe: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """A recipe's values, on top of those of the recipe it `extends` (a built-in name, or a path relative
    to the extending recipe's folder)."""
    if recipe in seen:
        raise ConfigError(f"recipes extend each other in a circle: {' -> '.join((*seen, recipe))}")
    path = recipe_path(recipe)
    values = load_yaml(path)
    if not isinstance(values, dict):
        raise ConfigError(f"a config must be a mapping of sections, got {type(values).__name__}")
    base = values.pop(EXTENDS, None)
    if base is None:
        return values
    if not isinstance(base, str):
        raise ConfigError(f"recipe {recipe!r}: '{EXTENDS}' names one recipe, got {base!r}")
    if Path(base).suffix in (".yaml", ".yml"):
        base = str(path.parent / base)  # an absolute path stays as it is
    return _merged(recipe_values(base, (*seen, recipe)), values)


def load_config(recipe: str = "dcgan", overrides: Iterable[str] = ()) -> Config:
    """The recipe's values over the defaults, then the overrides, each validated. A recipe may start from
    another (`extends: stylegan2`) and may end with a `by_resolution` table ({resolution: {section: {key:
    value}}}): the row of the config's data.resolution then sets every key that no override gives
    (StyleGAN2's batch size, R1 gamma and EMA per resolution)."""
    values = recipe_values(recipe)
    table = values.pop(BY_RESOLUTION, None)
    overrides = list(overrides)
    config = apply_overrides(from_dict(values), overrides)
    if table is not None:
        given = {parse_override(text)[:2] for text in overrides}
        for section, entries in resolution_row(table, config.data.resolution, recipe).items():
            for key, value in entries.items():
                if (section, key) not in given:
                    _set(config, section, key, value)
    return config


def resolution_row(table: Any, resolution: int, recipe: str) -> dict[str, dict[str, Any]]:
    """The settings a recipe's `by_resolution` table gives one resolution."""
    if not isinstance(table, dict) or not all(isinstance(row, dict) for row in table.values()):
        raise ConfigError(f"recipe {recipe!r}: {BY_RESOLUTION} must map resolutions to sections of settings")
    if resolution not in table:
        listed = ", ".join(str(r) for r in table)
        raise ConfigError(f"recipe {recipe!r} has settings for data.resolution {listed}, not {resolution}; "
                          "choose one of those")
    row = table[resolution]
    if not all(isinstance(entries, dict) for entries in row.values()):
        raise ConfigError(f"recipe {recipe!r}: each {BY_RESOLUTION} row must map sections to key: value")
    return row


def check_values(config: Config) -> None:
    """Every setting against the values its field accepts: its choices, or its bounds (each number of a
    list, each batch size of a mapping)."""
    for section in dataclasses.fields(config):
        values = getattr(config, section.name)
        for entry in dataclasses.fields(values):
            key, value = f"{section.name}.{entry.name}", getattr(values, entry.name)
            choices, bounds = entry.metadata.get("choices"), entry.metadata.get("bounds")
            if choices and value not in choices:
                shown = ", ".join(map(str, choices))
                raise ConfigError(f"config key '{key}' is {value!r}; choose one of: {shown}")
            several = isinstance(value, (dict, tuple))
            numbers = value.values() if isinstance(value, dict) else value if several else [value]
            if bounds is not None and not all(bounds.admits(n) for n in numbers):
                raise ConfigError(f"config key '{key}' is {value!r}; {'each number' if several else 'it'} must be "
                                  f"{bounds.describe()}")
