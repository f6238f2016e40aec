"""Copies of one network, each with weights of its own, run as one vectorised network.

`Lanes` stacks the weights and buffers of S networks of the same structure (`torch.func.stack_module_state`)
and runs them with `torch.func.vmap` over `functional_call`: its input is S equal blocks of samples one
after another, block k for copy k, and so is its output. Layers that look at the whole batch (batch norm,
minibatch discrimination and stddev, packing) see their own lane's block only, as in a network of its own;
in-place buffer updates (batch-norm statistics, spectral-norm vectors) update that lane's buffers.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap


class Lanes(nn.Module):
    """S networks of one structure, their weights stacked on a leading lane axis."""

    def __init__(self, networks: Sequence[nn.Module]):
        super().__init__()
        if not networks:
            raise ValueError("lanes need at least one network")
        params, buffers = stack_module_state(list(networks))
        self.count = len(networks)
        self.parameter_names, self.buffer_names = list(params), list(buffers)
        self.stacked = nn.ParameterList(nn.Parameter(params[name].detach().clone()) for name in self.parameter_names)
        for i, name in enumerate(self.buffer_names):
            self.register_buffer(f"stacked_buffer_{i}", buffers[name].clone())
        # The structure without values, outside the module tree so that it holds no parameters of its own.
        self._template = (copy.deepcopy(networks[0]).to("meta"),)

    def stacked_buffers(self) -> list[torch.Tensor]:
        return [getattr(self, f"stacked_buffer_{i}") for i in range(len(self.buffer_names))]

    def _call(self, params: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor],
              *inputs: torch.Tensor | None) -> torch.Tensor:
        template = self._template[0]
        template.train(self.training)
        return functional_call(template, (params, buffers), inputs)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """x (and labels y): S blocks of samples, block k for lane k; the outputs in the same order."""
        if len(x) % self.count:
            raise ValueError(f"{len(x)} samples do not split into {self.count} equal lanes")
        params = dict(zip(self.parameter_names, self.stacked, strict=True))
        buffers = dict(zip(self.buffer_names, self.stacked_buffers(), strict=True))
        blocks = [x.unflatten(0, (self.count, -1))]
        dims: list[int | None] = [0, 0, 0]
        if y is not None:
            blocks.append(y.unflatten(0, (self.count, -1)))
            dims.append(0)
        return vmap(self._call, in_dims=tuple(dims))(params, buffers, *blocks).flatten(0, 1)

    def lane(self, k: int) -> nn.Module:
        """Lane k as a network of its own (a copy: training the lanes does not change it)."""
        network = copy.deepcopy(self._template[0]).to_empty(device=self.stacked[0].device)
        values = {name: p[k] for name, p in zip(self.parameter_names, self.stacked, strict=True)}
        values.update({name: b[k] for name, b in zip(self.buffer_names, self.stacked_buffers(), strict=True)})
        with torch.no_grad():
            for name, tensor in [*network.named_parameters(), *network.named_buffers()]:
                tensor.copy_(values[name])
        return network.train(self.training)
