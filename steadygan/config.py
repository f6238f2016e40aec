"""The run configuration: typed sections loaded from a YAML recipe, overridden by `section.key=value`.

Every key is validated on load: an unknown key or a value of the wrong type is a `ConfigError` whose
message lists the valid choices.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, get_type_hints

import yaml

from .errors import ConfigError


LABEL_MODES = ("auto", "none", "folders", "csv")


@dataclass
class DataConfig:
    source: str = "digits"  # a folder, a .zip, MNIST IDX files, a built-in: digits, ring8, grid25, or
    # stacked:digits / stacked:<MNIST folder> (three digits as RGB, 1,000 modes)
    resolution: int = 16  # images are resized (shorter side) and center-cropped to this size
    channels: int = 0  # 0: as the data gives (1 for digits and MNIST, 3 for image files)
    labels: str = "auto"  # auto | none | folders | csv
    split: str = ""  # keep only the labels.csv rows of this split; "" keeps all
    hflip: bool = False  # random horizontal flips of real images
    cache_dir: str = ""  # "" uses $STEADYGAN_CACHE or ~/.cache/steadygan
    workers: int = -1  # threads assembling the next batches during a step; -1: one per 4 CPU cores, at most 4


@dataclass
class ModelConfig:
    arch: str = "dcgan"  # dcgan | sngan_cnn | sngan_resnet | began | pggan | mlp
    z_dim: int = 100
    g_width: int = 64  # channel width (hidden units for mlp; the widest layers for pggan) of G
    d_width: int = 64
    hidden_layers: int = 2  # mlp only
    activation: str = "relu"  # mlp only: relu | leaky_relu | tanh (VEEGAN's 2-D networks)
    g_batchnorm: bool = False  # mlp only: batch norm before each hidden activation of G (PacGAN's 2-D G)
    conditional: bool = False  # class-conditional G (conditional BN) and projection D
    spectral_norm: bool = False  # spectral normalization of every D layer
    g_spectral_norm: bool = False
    sn_power_iterations: int = 1
    init: str = "default"  # default (each architecture's published init) | orthogonal (Saxe et al. 2014)
    minibatch_discrimination: bool = False  # Salimans et al. 2016: D sees per-sample closeness to the batch
    mbd_kernels: int = 100  # minibatch discrimination: B kernels ...
    mbd_kernel_dim: int = 5  # ... of C dimensions each
    mbd_group: int = 0  # samples compared with each other; 0 = the whole batch (cost grows with its square)
    minibatch_stddev: bool = False  # Karras et al. 2018: D sees the batch's feature standard deviation
    mbstd_group: int = 4  # samples per minibatch-stddev group
    mbstd_statistic: str = "std"  # std (the paper's layer) | variance (the form of its released code)


@dataclass
class LossConfig:
    name: str = "ns"  # ns | minimax | hinge | wasserstein | lsgan | lsgan_chi2 | began
    label_smoothing: str = "none"  # none | one_sided (real 0.9) | two_sided (real 0.9, fake 0.1); BCE losses
    g_objective: str = "adversarial"  # adversarial | feature_matching (Salimans et al. 2016)
    unrolled_steps: int = 0  # K look-ahead D updates G's loss is taken through (Metz et al. 2017)
    began_gamma: float = 0.5  # BEGAN diversity ratio
    began_lambda_k: float = 0.001  # BEGAN learning rate of the equilibrium term k_t


@dataclass
class OptimConfig:
    batch_size: int = 64
    g_lr: float = 2e-4
    d_lr: float = 2e-4
    g_betas: tuple[float, float] = (0.5, 0.999)
    d_betas: tuple[float, float] = (0.5, 0.999)
    n_dis: int = 1  # D steps per G step
    optimizer: str = "adam"  # adam | rmsprop (WGAN; betas are ignored)
    lr_decay: str = "none"  # none | linear (to zero at the last step)
    lr_decay_start: float = 0.0  # fraction of train.steps run at the full rate before the decay starts


@dataclass
class RegularizeConfig:
    gradient_penalty: float = 0.0  # lambda of the WGAN-GP penalty on real/fake interpolates (10)
    gp_one_sided: bool = False  # penalise only gradient norms above 1
    drift: float = 0.0  # epsilon of PGGAN's eps * D(x)^2 on reals (0.001)
    r1: float = 0.0  # gamma of R1, gamma/2 * |grad D(real)|^2 (Mescheder et al. 2018)
    r2: float = 0.0  # gamma of R2, the same on fakes
    ortho_g: float = 0.0  # beta of BigGAN's orthogonal regularization on G (1e-4)
    ortho_d: float = 0.0  # ... on D
    weight_clip: float = 0.0  # c of WGAN's weight clipping of D (0.01)
    diffaugment: str = ""  # DiffAugment policy for D's inputs, e.g. color,translation,cutout


@dataclass
class GrowthConfig:
    """Progressive growing (model.arch=pggan): 4x4 first, then each doubling faded in and stabilized."""

    start_resolution: int = 4
    fade_images: int = 800_000  # real images shown while alpha rises linearly from 0 to 1
    stabilize_images: int = 800_000  # images at the new resolution with alpha 1 (the last one lasts to the end)
    batch_sizes: dict[int, int] = field(default_factory=dict)  # resolution -> batch size; others: optim.batch_size
    reset_optimizer: bool = True  # fresh Adam moments when a new resolution starts fading in (the paper's code)


@dataclass
class DoctorConfig:
    """The stability doctor's monitors and the rollback that survives divergence."""

    holdout: float = 0.02  # share of the real images (at most 1,000) kept from training to see D overfit
    monitor_samples: int = 64  # fixed latents and real images the monitors score at every log
    rollback: bool = True  # on NaN/inf: back to the last checkpoint with lower learning rates
    rollback_lr_factor: float = 0.5  # learning rates are multiplied by this at every rollback
    max_rollbacks: int = 3  # then training stops with an error


@dataclass
class TrainConfig:
    steps: int = 2000  # G updates
    seed: int = 0
    ema_decay: float = 0.999  # EMA of G's weights; 0 turns it off
    ema_start: int = 0  # G step at which the EMA starts averaging (a plain copy before)
    out_dir: str = "runs/default"
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    log_every: int = 25
    sample_every: int = 500
    checkpoint_every: int = 500
    num_samples: int = 64  # images in each sample grid (fixed latents)
    eval_every: int = 0  # G steps between evaluations of the EMA G (0: none); the best by FID is kept
    eval_metrics: str = "fid"  # comma-separated: fid, kid, is, pr, dc, modes
    eval_n: int = 5000  # generated images per evaluation
    eval_extractor: str = "auto"  # auto | inception | classifier:NAME_OR_FILE
    precision: str = "auto"  # auto (bf16 on GPUs that have it, else fp16; fp32 on CPUs) | fp32 | bf16 | fp16
    memory_format: str = "auto"  # auto (channels_last on GPUs) | channels_last | contiguous
    compile: bool = False  # torch.compile of G's and D's forward passes (pays off on long GPU runs)


@dataclass
class Config:
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


SECTIONS = {f.name: f.default_factory for f in dataclasses.fields(Config)}  # type: ignore[misc]


def _coerce(value: Any, expected: Any, key: str) -> Any:
    """Check `value` against the annotation `expected`; ints are accepted where floats are."""
    def wrong() -> ConfigError:
        want = getattr(expected, "__name__", str(expected)).replace("typing.", "")
        return ConfigError(f"config key '{key}' expects {want}, got {value!r}")

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
            try:
                return float(value)
            except ValueError:
                raise wrong() from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong()
        return float(value)
    if expected is str:
        if not isinstance(value, str):
            raise wrong()
        return value
    if getattr(expected, "__origin__", None) is dict:
        key_type, value_type = expected.__args__
        if not isinstance(value, dict):
            raise ConfigError(f"config key '{key}' expects a mapping such as {{32: 64, 64: 32}}, got {value!r}")
        coerced = {}
        for k, v in value.items():  # JSON (checkpoint metadata) turns integer keys into text
            k = int(k) if key_type is int and isinstance(k, str) and k.isdigit() else k
            coerced[_coerce(k, key_type, key)] = _coerce(v, value_type, key)
        return coerced
    if getattr(expected, "__origin__", None) is tuple:
        parts = expected.__args__
        if not isinstance(value, (list, tuple)) or len(value) != len(parts):
            raise ConfigError(f"config key '{key}' expects a list of {len(parts)} numbers, got {value!r}")
        return tuple(_coerce(v, t, key) for v, t in zip(value, parts))
    raise TypeError(f"unsupported config type {expected!r}")


def _set(config: Config, section: str, key: str, value: Any) -> None:
    if section not in SECTIONS:
        raise ConfigError(f"unknown config section '{section}'; valid sections: {', '.join(SECTIONS)}")
    target = getattr(config, section)
    hints = get_type_hints(type(target))
    if key not in hints:
        raise ConfigError(
            f"unknown config key '{section}.{key}'; valid keys in '{section}': {', '.join(hints)}"
        )
    setattr(target, key, _coerce(value, hints[key], f"{section}.{key}"))


def from_dict(values: dict[str, Any], base: Config | None = None) -> Config:
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


def parse_override(text: str) -> tuple[str, str, Any]:
    """'optim.d_lr=4e-4' -> ('optim', 'd_lr', 0.0004); the value is read as YAML."""
    name, sep, raw = text.partition("=")
    section, dot, key = name.strip().partition(".")
    if not sep or not dot or not key:
        raise ConfigError(f"override {text!r} is not of the form section.key=value (e.g. optim.d_lr=4e-4)")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return section, key, value


def apply_overrides(config: Config, overrides: Iterable[str]) -> Config:
    for text in overrides:
        section, key, value = parse_override(text)
        _set(config, section, key, value)
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


def load_yaml(path: Path) -> dict[str, Any]:
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"recipe '{path}' is not valid YAML: {str(exc).splitlines()[0]}") from None
    return values


def load_config(recipe: str = "dcgan", overrides: Iterable[str] = ()) -> Config:
    """The recipe's values over the defaults, then the overrides, each validated."""
    config = from_dict(load_yaml(recipe_path(recipe)))
    return apply_overrides(config, overrides)


FIXED_CHOICES = {
    ("data", "labels"): LABEL_MODES,
    ("optim", "lr_decay"): ("none", "linear"),
    ("optim", "optimizer"): ("adam", "rmsprop"),
    ("model", "init"): ("default", "orthogonal"),
    ("model", "activation"): ("relu", "leaky_relu", "tanh"),
    ("model", "mbstd_statistic"): ("std", "variance"),
    ("loss", "label_smoothing"): ("none", "one_sided", "two_sided"),
    ("loss", "g_objective"): ("adversarial", "feature_matching"),
    ("train", "precision"): ("auto", "fp32", "bf16", "fp16"),
    ("train", "memory_format"): ("auto", "channels_last", "contiguous"),
}


def validate(config: Config) -> Config:
    """Check the values that must name a registered unit or a fixed choice, before any work starts."""
    from .losses import LOSSES
    from .models import ARCHITECTURES

    expects, output = LOSSES.get(config.loss.name).expects, ARCHITECTURES.get(config.model.arch).output
    if expects != output:
        raise ConfigError(f"loss.name={config.loss.name} needs a D that outputs {expects}, but model.arch="
                          f"{config.model.arch} outputs {output}; use loss.name=began with model.arch=began only")
    if config.loss.unrolled_steps and config.loss.g_objective != "adversarial":
        raise ConfigError("loss.unrolled_steps needs loss.g_objective=adversarial (feature matching uses D's "
                          "features, which are not unrolled)")
    for (section, key), choices in FIXED_CHOICES.items():
        value = getattr(getattr(config, section), key)
        if value not in choices:
            raise ConfigError(f"config key '{section}.{key}' is {value!r}; choose one of: {', '.join(choices)}")
    positive = [("optim", "batch_size"), ("optim", "n_dis"), ("train", "steps"), ("data", "resolution"),
                ("model", "mbd_kernels"), ("model", "mbd_kernel_dim"), ("model", "mbstd_group"),
                ("growth", "start_resolution"), ("growth", "stabilize_images"), ("doctor", "monitor_samples")]
    for section, key in positive:
        if getattr(getattr(config, section), key) <= 0:
            raise ConfigError(f"config key '{section}.{key}' must be positive")
    non_negative = [("loss", "unrolled_steps"), ("model", "mbd_group"), ("train", "eval_every"),
                    ("growth", "fade_images"), ("doctor", "max_rollbacks")]
    non_negative += [("regularize", f.name) for f in dataclasses.fields(RegularizeConfig) if f.type in (float, "float")]
    for key in ("holdout", "rollback_lr_factor"):
        if not 0.0 <= getattr(config.doctor, key) < 1.0:
            raise ConfigError(f"config key 'doctor.{key}' is {getattr(config.doctor, key)}; it is a fraction in [0, 1)")
    if config.data.workers < -1:
        raise ConfigError(f"config key 'data.workers' is {config.data.workers}; give a thread count, or -1 to choose "
                          "from the CPU count")
    if not 0.0 <= config.optim.lr_decay_start < 1.0:
        raise ConfigError(f"config key 'optim.lr_decay_start' is {config.optim.lr_decay_start}; it is a fraction "
                          "of train.steps in [0, 1), e.g. 0.5 to decay over the second half")
    for section, key in non_negative:
        if getattr(getattr(config, section), key) < 0:
            raise ConfigError(f"config key '{section}.{key}' must not be negative")
    from .augment import parse_policy

    parse_policy(config.regularize.diffaugment)
    from .train.growth import check_growth

    check_growth(config)
    return config
