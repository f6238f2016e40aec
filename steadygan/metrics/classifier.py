"""A small CNN classifier trained on a data set's own labels: a feature extractor that works offline.

FID and friends need a network whose features describe the images. Where the Inception weights are
not at hand, or for data far from ImageNet (digits), a classifier trained on the data set's labels is
the standard substitute (e.g. the MNIST classifiers of the Unrolled GAN, VEEGAN and PacGAN mode
counts). Its penultimate layer gives the features and its last layer the logits.

A classifier file is a steadygan safetensors checkpoint holding the weights and, as JSON, the input
resolution and channels, the class names, the data it was trained on and its held-out accuracy.
"""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval
from tqdm.auto import tqdm

from ..errors import CheckpointError, DataError
from ..images import check_output_file
from ..storage.checkpoint import load_checkpoint, read_meta, save_checkpoint

BUILTIN = {"digits": "digits-classifier.safetensors", "mnist": "mnist-classifier.safetensors"}
# Inference runs in chunks whose first activation holds at most this many floats (16 MiB): activations that stay
# in a CPU's cache read 1,500 32x32 digits about 1.5x as fast as one batch of them.
CHUNK_FLOATS = 2**22


class ImageClassifier(nn.Module):
    """Three conv stages (each two 3x3 convs, BN, ReLU, 2x2 pooling) and a hidden dense layer."""

    def __init__(self, channels: int, num_classes: int, resolution: int, width: int = 32, features: int = 128):
        super().__init__()
        self.channels, self.num_classes, self.resolution = channels, num_classes, resolution
        self.width, self.feature_dim = width, features
        layers: list[nn.Module] = []
        inputs = channels
        for stage in range(3):
            out = width * 2 ** stage
            layers += [nn.Conv2d(inputs, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(inplace=True),
                       nn.Conv2d(out, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2)]
            inputs = out
        self.body = nn.Sequential(*layers)
        self.hidden = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(inputs * (resolution // 8) ** 2, features),
                                    nn.ReLU())
        self.fc = nn.Linear(features, num_classes)

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """[-1, 1] images of any size -> this classifier's input; grey images are repeated to its channels
        (a grey classifier reads RGB stacked digits through `features.ChannelwiseClassifier`)."""
        if images.shape[1] != self.channels:
            if images.shape[1] != 1:
                raise DataError(f"the classifier takes {self.channels}-channel images, got {images.shape[1]}")
            images = images.expand(-1, self.channels, -1, -1)
        if images.shape[-1] != self.resolution or images.shape[-2] != self.resolution:
            images = F.interpolate(images.float(), size=(self.resolution, self.resolution), mode="bilinear",
                                   align_corners=False, antialias=images.shape[-1] > self.resolution)
        # channels_last runs the convolutions about 1.7x faster on a CPU and no slower on a GPU
        return images.float().contiguous(memory_format=torch.channels_last)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        images = self.prepare(images)
        # training keeps the whole batch: its batch-norm statistics are the batch's
        chunks = [images] if self.training else images.split(self.chunk_size)
        pool = torch.cat([self.hidden(self.body(chunk)) for chunk in chunks])
        return {"pool": pool, "logits": self.fc(pool)}

    @property
    def chunk_size(self) -> int:
        """Images per chunk at inference: see CHUNK_FLOATS."""
        return max(1, CHUNK_FLOATS // (self.width * self.resolution**2))

    def fold_batch_norm(self) -> ImageClassifier:
        """For inference (eval mode): each batch norm folded into the convolution before it, the same function
        with one pass over the activations fewer. The network can no longer be trained."""
        self.eval()
        layers = list(self.body)
        for i in range(len(layers) - 1):
            conv, norm = layers[i], layers[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
                layers[i], layers[i + 1] = fuse_conv_bn_eval(conv, norm), nn.Identity()
        self.body = nn.Sequential(*layers)
        return self

    def spec(self) -> dict:
        return {"channels": self.channels, "num_classes": self.num_classes, "resolution": self.resolution,
                "width": self.width, "features": self.feature_dim}


def train_classifier(images: torch.Tensor, labels: torch.Tensor, *, class_names: list[str], epochs: int = 10,
                     batch_size: int = 128, lr: float = 2e-3, holdout: float = 0.1, seed: int = 0,
                     progress: bool = True) -> tuple[ImageClassifier, dict]:
    """Trains on all but a held-out share of (images in [-1, 1], labels) with Adam, a one-cycle lr and
    small random translations; returns the classifier and a report with the held-out accuracy."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    order = torch.randperm(len(images), generator=generator)
    cut = round(len(images) * holdout)
    held, train = order[:cut], order[cut:]
    resolution = images.shape[-1]
    model = ImageClassifier(images.shape[1], len(class_names), resolution)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * max(1, len(train) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    start = time.perf_counter()
    with tqdm(total=steps, disable=not progress, unit="step", desc="training classifier") as bar:
        for _ in range(epochs):
            shuffled = train[torch.randperm(len(train), generator=generator)]
            for i in range(0, len(shuffled) - batch_size + 1, batch_size):
                batch = shuffled[i:i + batch_size]
                x = _jitter(images[batch].float(), generator, shift=max(1, resolution // 16))
                loss = F.cross_entropy(model(x)["logits"], labels[batch])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                bar.update(1)
                bar.set_postfix_str(f"loss={loss.item():.3f}", refresh=False)
    model.eval()
    accuracy = classify_accuracy(model, images[held], labels[held]) if cut else float("nan")
    report = {"held_out": cut, "trained_on": len(train), "held_out_accuracy": accuracy, "epochs": epochs,
              "seconds": round(time.perf_counter() - start, 1)}
    return model, report


def _jitter(x: torch.Tensor, generator: torch.Generator, shift: int) -> torch.Tensor:
    """Random translations of up to `shift` pixels, filled with the background value -1."""
    padded = F.pad(x, (shift,) * 4, value=-1.0)
    dx, dy = (int(v) for v in torch.randint(0, 2 * shift + 1, (2,), generator=generator))
    return padded[..., dy:dy + x.shape[-2], dx:dx + x.shape[-1]]


@torch.no_grad()
def classify(model: ImageClassifier, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    model.eval()
    return torch.cat([model(images[i:i + batch_size])["logits"].argmax(dim=1)
                      for i in range(0, len(images), batch_size)])


def classify_accuracy(model: ImageClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    return float((classify(model, images) == labels).float().mean())


def save_classifier(path: str | Path, model: ImageClassifier, *, class_names: list[str], data: str,
                    report: dict) -> Path:
    meta = {"kind": "classifier", "spec": model.spec(), "class_names": class_names, "data": data, "report": report}
    return save_checkpoint(path, model.state_dict(), meta)


# The values a classifier file may give each argument of ImageClassifier.
CLASSIFIER_SPEC = {"channels": (1, 3), "num_classes": (2, 100_000), "resolution": (8, 256), "width": (1, 1024),
                   "features": (1, 4096)}
MAX_HIDDEN_WEIGHTS = 2**27  # the dense layer's weights; larger than any classifier train-classifier writes


def is_classifier_file(path: Path) -> bool:
    """Whether `path` is a classifier steadygan wrote (which train-classifier may replace)."""
    try:
        return read_meta(path).get("kind") == "classifier"
    except CheckpointError:
        return False


def classifier_file(name_or_path: str | Path) -> Path:
    """The file of a shipped classifier by name (`digits`, `mnist`), or `name_or_path` when that file exists."""
    if str(name_or_path) in BUILTIN:
        return Path(str(resources.files("steadygan") / "weights" / BUILTIN[str(name_or_path)]))
    path = Path(name_or_path)
    if not path.is_file():
        raise CheckpointError(f"classifier '{path}' does not exist; give a file written by "
                              f"'steadygan train-classifier' or a built-in: {', '.join(BUILTIN)}")
    return path


def load_classifier(name_or_path: str | Path) -> tuple[ImageClassifier, dict]:
    """A shipped classifier by name (`digits`, `mnist`) or a file written by `steadygan train-classifier`, ready
    for inference (batch norm folded, no gradients)."""
    path = classifier_file(name_or_path)
    tensors, meta, _ = load_checkpoint(path)
    if meta.get("kind") != "classifier":
        raise CheckpointError(f"'{path}' is a steadygan checkpoint but not a classifier; train one with "
                              "'steadygan train-classifier --data DATA --out FILE'")
    spec = meta.get("spec")
    if not (isinstance(spec, dict) and set(spec) == set(CLASSIFIER_SPEC)
            and all(isinstance(spec[k], int) and low <= spec[k] <= high for k, (low, high) in CLASSIFIER_SPEC.items())
            and spec["resolution"] % 8 == 0 and spec["channels"] in (1, 3)
            and spec["width"] * 4 * (spec["resolution"] // 8) ** 2 * spec["features"] <= MAX_HIDDEN_WEIGHTS):
        raise CheckpointError(f"classifier '{path}' is damaged: its network description {str(spec)[:80]} is not one "
                              "steadygan writes")
    model = ImageClassifier(**spec)
    try:
        model.load_state_dict(tensors)
    except RuntimeError as exc:
        raise CheckpointError(f"classifier '{path}' is damaged: its weights do not fit its network "
                              f"({str(exc).splitlines()[0]})") from None
    model.fold_batch_norm().requires_grad_(False)
    model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stubs leave it out
    return model, meta


def train_classifier_file(source: str, out: str | Path, *, resolution: int, labels: str = "auto", split: str = "",
                          epochs: int = 10, batch_size: int = 128, seed: int = 0,
                          progress: bool = True) -> tuple[Path, dict]:
    """`steadygan train-classifier`: a classifier of a labelled data source, saved as a steadygan file."""
    from ..config import DataConfig
    from ..data import build_dataset

    if resolution < 8 or resolution % 8:
        raise DataError(f"a classifier's resolution must be a multiple of 8 (it pools three times), got {resolution}")
    if epochs < 1 or batch_size < 1:
        raise DataError(f"epochs and batch size must be positive, got {epochs} and {batch_size}")
    check_output_file(out, ".safetensors", "steadygan train-classifier", replaceable=is_classifier_file)
    dataset = build_dataset(DataConfig(source=source, resolution=resolution, labels=labels, split=split),
                            progress=progress)
    if dataset.kind != "image":
        raise DataError(f"'{source}' is 2-D point data; a classifier needs labelled images")
    images, targets = labelled_images(dataset)
    if len(images) < 2 * batch_size:
        raise DataError(f"data set '{dataset.name}' has {len(images)} images, too few for batches of {batch_size}; "
                        "lower --batch-size")
    model, report = train_classifier(images, targets, class_names=list(dataset.class_names), epochs=epochs,
                                     batch_size=batch_size, seed=seed, progress=progress)
    path = save_classifier(out, model, class_names=list(dataset.class_names), data=dataset.name,
                           report={**report, "resolution": resolution, "seed": seed})
    return path, report


def labelled_images(dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """All images of an ImageDataset in [-1, 1] and their labels, for training a classifier."""
    if dataset.labels is None:
        raise DataError(f"data set '{dataset.name}' has no class labels; a classifier needs them "
                        "(sub-folders, a labels.csv or IDX label files)")
    images, labels = dataset.batch(np.arange(len(dataset)))
    return images, labels.long()
