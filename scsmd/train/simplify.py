"""Exact rewrites of a trained encoder before export: a dilated conv whose off-centre taps only ever read padding
is a 1x1 conv with the centre weights."""
from __future__ import annotations

import copy

import torch
import torch.nn as nn


def _input_sizes(encoder: nn.Module, n_inputs: int) -> dict[nn.Conv2d, tuple[int, int]]:
    """Spatial input size of every 3x3 conv, recorded by hooks on one forward pass."""
    sizes: dict[nn.Conv2d, tuple[int, int]] = {}
    hooks = [m.register_forward_pre_hook(lambda m, args: sizes.__setitem__(m, tuple(args[0].shape[-2:])))
             for m in encoder.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    with torch.no_grad():
        encoder(torch.zeros(2, n_inputs))
    for hook in hooks:
        hook.remove()
    return sizes


def _centre_only(conv: nn.Conv2d, size: tuple[int, int]) -> bool:
    """True when every off-centre tap of a 'same'-padded stride-1 conv falls on padding (dilation >= size)."""
    same = conv.stride == (1, 1) and conv.padding == conv.dilation
    return same and all(d >= s for d, s in zip(conv.dilation, size))


def _as_pointwise(conv: nn.Conv2d) -> nn.Conv2d:
    """The 1x1 conv computing exactly what `conv` computes when only its centre tap sees data."""
    pointwise = nn.Conv2d(conv.in_channels, conv.out_channels, 1, bias=conv.bias is not None)
    with torch.no_grad():
        pointwise.weight.copy_(conv.weight[:, :, 1:2, 1:2])
        if conv.bias is not None:
            pointwise.bias.copy_(conv.bias)
    return pointwise


def simplify_encoder(encoder: nn.Module, n_inputs: int = 784) -> tuple[nn.Module, int]:
    """A copy of the eval-mode encoder with centre-tap-only dilated convs made 1x1; returns it and how many."""
    simplified = copy.deepcopy(encoder).eval()
    sizes = _input_sizes(simplified, n_inputs)
    targets = {conv for conv, size in sizes.items() if conv.dilation != (1, 1) and _centre_only(conv, size)}
    for parent in list(simplified.modules()):
        for name, child in parent.named_children():
            if child in targets:
                setattr(parent, name, _as_pointwise(child))
    return simplified, len(targets)
