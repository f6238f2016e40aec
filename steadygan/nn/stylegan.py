"""The layers of StyleGAN (Karras et al. 2019) and StyleGAN2 (Karras et al. 2020, "Analyzing and improving the
image quality of StyleGAN"), in plain torch with no custom CUDA or C++ operations: FIR resampling, the mapping
network with its learning-rate multiplier and tracked average w, modulated convolutions with weight
demodulation (StyleGAN2), adaptive instance normalization (StyleGAN), and noise inputs.

Every weight is stored at unit variance and scaled at run time (equalized learning rate, as in PGGAN).
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

GAIN = math.sqrt(2)  # leaky ReLU's gain, applied after the activation as in the official code


def fir_filter(taps: tuple[float, ...] = (1, 3, 3, 1)) -> torch.Tensor:
    """The separable 2-D low-pass filter of `taps`, normalized to sum 1."""
    row = torch.tensor(taps, dtype=torch.float32)
    kernel = torch.outer(row, row)
    return kernel / kernel.sum()


def _depthwise(x: torch.Tensor, kernel: torch.Tensor, stride: int = 1) -> torch.Tensor:
    # A plain int even in a traced graph (where sizes are tensors): the filter's shape is then fixed, as an
    # ONNX convolution needs it to be; a layer's channels never change.
    channels = int(x.shape[1])
    weight = kernel.to(x.dtype).flip(0, 1)[None, None].expand(channels, 1, *kernel.shape)
    return F.conv2d(x, weight, stride=stride, groups=channels)


def upsample2d(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """x2 by zero insertion and the FIR filter (gain 4, so that a constant image stays constant inside)."""
    n, c, h, w = x.shape
    spread = x.new_zeros(n, c, 2 * h, 2 * w)
    spread[:, :, ::2, ::2] = x
    k = kernel.shape[0]
    spread = F.pad(spread, [(k + 1) // 2, (k - 2) // 2, (k + 1) // 2, (k - 2) // 2])
    return _depthwise(spread, kernel * 4)


def downsample2d(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """/2 by the FIR filter and keeping every other pixel."""
    k = kernel.shape[0]
    return _depthwise(F.pad(x, [(k - 1) // 2, (k - 2) // 2, (k - 1) // 2, (k - 2) // 2]), kernel, stride=2)


class ScaledLinear(nn.Module):
    """An equalized-LR linear layer with a learning-rate multiplier (the mapping network's 0.01) and a bias
    that can start away from 0 (the style affines' 1)."""

    def __init__(self, in_features: int, out_features: int, lr_multiplier: float = 1.0, bias_init: float = 0.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_features,), bias_init / lr_multiplier))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.weight_gain, self.bias * self.bias_gain)


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class MappingNetwork(nn.Module):
    """z (and a class embedding for conditional models) -> w through `layers` fully connected layers
    with leaky ReLU, broadcast to the `num_ws` styles of the synthesis network: (N, num_ws, w_dim).
    `w_avg` tracks the average w in training (beta 0.995), for truncation: w' = w_avg + psi (w - w_avg)."""

    w_avg: torch.Tensor

    def __init__(self, z_dim: int, w_dim: int, num_ws: int, layers: int = 8, num_classes: int = 0,
                 lr_multiplier: float = 0.01, w_avg_beta: float = 0.995):
        super().__init__()
        self.embed = ScaledLinear(num_classes, w_dim) if num_classes else None
        features = [z_dim + (w_dim if num_classes else 0)] + [w_dim] * layers
        self.layers = nn.ModuleList(ScaledLinear(a, b, lr_multiplier) for a, b in itertools.pairwise(features))
        self.num_classes, self.num_ws, self.w_avg_beta = num_classes, num_ws, w_avg_beta
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None, truncation: float = 1.0,
                update_average: bool = True) -> torch.Tensor:
        """The styles of latents `z`; `update_average=False` leaves w_avg alone (the second latent of style
        mixing, which is not a sample of its own)."""
        x = normalize_2nd_moment(z)
        if self.embed is not None:
            if labels is None:
                raise ValueError("a conditional mapping network needs class labels")
            one_hot = F.one_hot(labels, self.num_classes).to(z.dtype)
            x = torch.cat([x, normalize_2nd_moment(self.embed(one_hot))], dim=1)
        for layer in self.layers:
            x = F.leaky_relu(layer(x), 0.2) * GAIN
        if self.training and update_average:
            with torch.no_grad():
                self.w_avg.copy_(x.detach().float().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        if truncation != 1.0:
            x = self.w_avg.to(x.dtype).lerp(x, truncation)
        return x[:, None].expand(-1, self.num_ws, -1)


class ModulatedConv2d(nn.Module):
    """A convolution whose input channels are scaled per sample by a style s = A(w) (bias 1 at the start),
    and, with `demodulate`, whose output channels are rescaled to unit expected variance:
    w'_ijk = s_i w_ijk / sqrt(sum_ik (s_i w_ijk)^2 + eps). `up` doubles the resolution first (FIR upsampling).

    Two equal ways to run it, chosen as the official code chooses: in eval mode one grouped convolution
    with every sample's own weights; in training the shared weights on inputs scaled by the styles, the
    outputs then scaled by the demodulation factors (a plain batched convolution, lighter to differentiate).
    `grouped = False` takes the second way in eval mode too: its graph does not depend on the batch size,
    which an exported generator needs (a grouped convolution's group count is the batch size)."""

    kernel: torch.Tensor

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, w_dim: int, demodulate: bool = True,
                 up: bool = False):
        super().__init__()
        self.affine = ScaledLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.demodulate, self.up, self.padding = demodulate, up, kernel_size // 2
        self.register_buffer("kernel", fir_filter())
        self.grouped = True

    def modulated_weights(self, w: torch.Tensor) -> torch.Tensor:
        """(N, out, in, k, k): every sample's own weights."""
        styles = self.affine(w)
        weight = self.weight[None] * self.weight_gain * styles[:, None, :, None, None]
        if self.demodulate:
            weight = weight * (weight.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8).rsqrt()
        return weight

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if self.up:
            x = upsample2d(x, self.kernel)
        if self.training or not self.grouped:
            return self._separate(x, w)
        weight = self.modulated_weights(w)
        n, out_channels = weight.shape[:2]
        out = F.conv2d(x.reshape(1, -1, *x.shape[2:]), weight.reshape(-1, *weight.shape[2:]).to(x.dtype),
                       padding=self.padding, groups=n)
        return out.reshape(n, out_channels, *out.shape[2:])

    def _separate(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w)
        weight = self.weight * self.weight_gain
        out = F.conv2d(x * styles[:, :, None, None].to(x.dtype), weight.to(x.dtype), padding=self.padding)
        if not self.demodulate:
            return out
        # sum_ik (s_i w_oik)^2 = sum_i s_i^2 sum_k w_oik^2, for every sample and output channel at once
        factors = (styles.float().square() @ weight.float().square().sum(dim=(2, 3)).t() + 1e-8).rsqrt()
        return out * factors[:, :, None, None].to(out.dtype)


class NoiseInput(nn.Module):
    """Per-pixel Gaussian noise, the same over channels, with a learned strength (0 at the start). In training
    the noise is drawn afresh; in eval mode it is the layer's fixed draw (`noise_const`, saved with the
    weights), so that a latent always gives the same image (the official code's noise_mode='const')."""

    noise_const: torch.Tensor

    def __init__(self, resolution: int) -> None:
        super().__init__()
        self.strength = nn.Parameter(torch.zeros(()))
        self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution))

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        if noise is None:
            noise = (torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype) if self.training
                     else self.noise_const.to(x.dtype))
        return x + noise * self.strength


class AdaptiveInstanceNorm(nn.Module):
    """StyleGAN (2019)'s AdaIN: each feature map normalized to zero mean and unit variance per sample, then
    scaled and shifted by the style A(w): y_s * (x - mu(x)) / sigma(x) + y_b, the scale starting at 1."""

    def __init__(self, channels: int, w_dim: int):
        super().__init__()
        self.affine = ScaledLinear(w_dim, 2 * channels)
        self.channels = channels

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        style = self.affine(w).to(x.dtype)
        scale, shift = 1 + style[:, :self.channels, None, None], style[:, self.channels:, None, None]
        return scale * F.instance_norm(x, eps=1e-8) + shift
