"""The Inception-v3 network of FID (Heusel et al. 2017), written with torch alone.

It is the TensorFlow graph `2015-12-05` that the original FID and IS code used, in the PyTorch form of
pytorch-fid: torchvision's Inception-v3 with the blocks patched to match TensorFlow (average pools that
ignore the zero padding; a max pool in the last block), 2048-d pool features and 1008 logits. Inputs
are resized bilinearly to 299x299 and scaled to [-1, 1], as pytorch-fid does.

The weights (pytorch-fid's `pt_inception-2015-12-05-6726825d.pth`, 91 MB) are read from a file the
user gives, or from the cache folder, or downloaded there once with their sha256 checked. They are
read with `torch.load(weights_only=True)`, which never runs code from the file.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from ..data.cache import cache_root
from ..errors import SteadyganError, first_line
from ..storage.atomic import atomic_path

FID_WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                   "pt_inception-2015-12-05-6726825d.pth")
FID_WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"
FID_WEIGHTS_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
INPUT_SIZE = 299


class WeightsError(SteadyganError):
    """Missing, unreadable or wrong network weights."""


class BasicConv2d(nn.Module):
    """Convolution without bias, batch norm (TensorFlow's eps 1e-3), ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn: nn.Module = nn.BatchNorm2d(out_channels, eps=0.001)  # nn.Identity once folded into conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def tf_avg_pool(x: torch.Tensor) -> torch.Tensor:
    """3x3 average pool, stride 1, whose border averages leave out the padding, as TensorFlow's does."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    def __init__(self, in_channels: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, 1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(tf_avg_pool(x)),
        ], dim=1)


class InceptionB(nn.Module):
    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch3x3(x),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            F.max_pool2d(x, kernel_size=3, stride=2),
        ], dim=1)


class InceptionC(nn.Module):
    def __init__(self, in_channels: int, channels_7x7: int):
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, 1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        double = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                      self.branch7x7dbl_5):
            double = layer(double)
        return torch.cat([
            self.branch1x1(x),
            self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x))),
            double,
            self.branch_pool(tf_avg_pool(x)),
        ], dim=1)


class InceptionD(nn.Module):
    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seven = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), seven, F.max_pool2d(x, kernel_size=3, stride=2)],
                         dim=1)


class InceptionE(nn.Module):
    """The last two blocks; the TensorFlow graph pools the first with an average, the second with a max."""

    def __init__(self, in_channels: int, pool: str):
        super().__init__()
        self.pool = pool
        self.branch1x1 = BasicConv2d(in_channels, 320, 1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        single = self.branch3x3_1(x)
        double = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = tf_avg_pool(x) if self.pool == "avg" else F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        return torch.cat([
            self.branch1x1(x),
            self.branch3x3_2a(single), self.branch3x3_2b(single),
            self.branch3x3dbl_3a(double), self.branch3x3dbl_3b(double),
            self.branch_pool(pooled),
        ], dim=1)


class FIDInceptionV3(nn.Module):
    """Images in [-1, 1] (N, 1 or 3, H, W) -> {"pool": (N, 2048), "logits": (N, 1008)}."""

    feature_dim = 2048
    num_logits = 1008

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, pool="avg")
        self.Mixed_7c = InceptionE(2048, pool="max")
        self.fc = nn.Linear(2048, 1008)
        self.eval().requires_grad_(False)

    @staticmethod
    def preprocess(images: torch.Tensor) -> torch.Tensor:
        """[-1, 1] images of any size -> 299x299 RGB in [-1, 1], resized as pytorch-fid resizes [0, 1] images."""
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        unit = (images.float() + 1) / 2
        resized = F.interpolate(unit, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        return 2 * resized - 1

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.preprocess(images)
        for layer in (self.Conv2d_1a_3x3, self.Conv2d_2a_3x3, self.Conv2d_2b_3x3):
            x = layer(x)
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        pool = x.mean(dim=(2, 3))
        return {"pool": pool, "logits": self.fc(pool)}

    def load_weights(self, state: dict[str, torch.Tensor], where: str = "the state dict") -> FIDInceptionV3:
        """Loads pytorch-fid's key layout (BN step counters may be absent); a mismatch is a WeightsError."""
        expected = {k: v.shape for k, v in self.state_dict().items() if not k.endswith("num_batches_tracked")}
        given = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
        missing, unexpected = sorted(set(expected) - set(given)), sorted(set(given) - set(expected))
        wrong = [k for k in expected if k in given and tuple(given[k].shape) != tuple(expected[k])]
        if missing or unexpected or wrong:
            detail = (f"missing {missing[0]}" if missing else f"unexpected {unexpected[0]}" if unexpected
                      else f"{wrong[0]} has shape {tuple(given[wrong[0]].shape)}, expected {tuple(expected[wrong[0]])}")
            raise WeightsError(f"{where} is not the FID Inception weights ({detail}); {where_to_put_weights()}")
        self.load_state_dict(given, strict=False)
        return self

    def for_inference(self) -> FIDInceptionV3:
        """The same function about twice as fast on a CPU (bench/features.py): each batch norm folded into the
        convolution before it, and the weights in channels_last, the layout a CPU's convolutions run fastest
        in. Its state dict is no longer pytorch-fid's layout."""
        self.eval()
        for module in self.modules():
            if isinstance(module, BasicConv2d) and isinstance(module.bn, nn.BatchNorm2d):
                module.conv, module.bn = fuse_conv_bn_eval(module.conv, module.bn), nn.Identity()
        return self.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stubs leave it out


def weights_cache_path() -> Path:
    return cache_root() / "weights" / FID_WEIGHTS_NAME


def where_to_put_weights() -> str:
    return (f"download {FID_WEIGHTS_URL} to {weights_cache_path()} or pass its path "
            "(--inception-weights or $STEADYGAN_INCEPTION_WEIGHTS)")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, target: Path, sha256: str, progress: bool = True) -> Path:
    """Fetches url to target through a temporary file, kept only when its sha256 matches."""
    from tqdm.auto import tqdm

    try:
        with atomic_path(target) as temporary:
            with open(temporary, "wb") as out, urllib.request.urlopen(url) as response:
                total = int(response.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, disable=not progress, desc=target.name) as bar:
                    for block in iter(lambda: response.read(1 << 20), b""):
                        out.write(block)
                        bar.update(len(block))
            actual = sha256_of(temporary)
            if actual != sha256:
                raise WeightsError(f"the file downloaded from {url} has sha256 {actual[:16]}..., expected "
                                   f"{sha256[:16]}...: corrupt or replaced; {where_to_put_weights()}")
    except OSError as exc:
        raise WeightsError(f"could not download {url} ({exc}); {where_to_put_weights()}") from None
    return target


def fid_weights_file(path: str | Path | None = None, *, allow_download: bool = True, progress: bool = True) -> Path:
    """The checked weights file: `path`, else $STEADYGAN_INCEPTION_WEIGHTS, else the cache (downloaded once)."""
    chosen = path or os.environ.get("STEADYGAN_INCEPTION_WEIGHTS")
    if chosen:
        candidate = Path(chosen).expanduser()
        if not candidate.is_file():
            raise WeightsError(f"Inception weights file '{candidate}' does not exist; {where_to_put_weights()}")
    else:
        candidate = weights_cache_path()
        if not candidate.is_file():
            if not allow_download:
                raise WeightsError(f"the FID Inception weights are not in the cache; {where_to_put_weights()}")
            return download(FID_WEIGHTS_URL, candidate, FID_WEIGHTS_SHA256, progress)
    actual = sha256_of(candidate)
    if actual != FID_WEIGHTS_SHA256:
        raise WeightsError(f"'{candidate}' has sha256 {actual[:16]}..., not that of {FID_WEIGHTS_NAME}; "
                           f"{where_to_put_weights()}")
    return candidate


def load_fid_inception(path: str | Path | None = None, *, allow_download: bool = True,
                       progress: bool = True) -> FIDInceptionV3:
    """The FID Inception network with the published weights (see `fid_weights_file`), ready for inference."""
    weights = fid_weights_file(path, allow_download=allow_download, progress=progress)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001  (torch.load raises many kinds of error on a truncated or foreign file)
        raise WeightsError(f"cannot read '{weights}' ({first_line(exc)}); {where_to_put_weights()}") from None
    return FIDInceptionV3().load_weights(state, f"'{weights}'").for_inference()


__all__ = [
    "FID_WEIGHTS_SHA256",
    "FID_WEIGHTS_URL",
    "FIDInceptionV3",
    "WeightsError",
    "download",
    "fid_weights_file",
    "load_fid_inception",
]
