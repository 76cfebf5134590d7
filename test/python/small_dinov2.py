"""A small DINOv2 with random weights: the export's layout and arithmetic at test size (no download)."""

from __future__ import annotations

import torch

from omniglue_conversion.export_dinov2 import DinoV2Features


def small_dinov2(*, depth: int, heads: int, dim: int = 32) -> DinoV2Features:
    """Width `dim` (768 is ViT-B/14's, what the contract's `features` declares), a 5 x 5 position grid
    (70 px / 14), weights drawn from seed 0."""
    torch.manual_seed(0)
    model = DinoV2Features(dim=dim, depth=depth, heads=heads, train_size=70).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn_like(parameter) * 0.5)
    return model
