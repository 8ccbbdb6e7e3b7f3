"""Compute-bound models for benchmarks/heavy.py: the forward call, not the compile, is what costs.

Each factory takes a `scale` (1.0: the full benchmark; the quick one uses less) so both variants share code."""

from __future__ import annotations

import torch
from torch import nn


def encoder(scale: float = 1.0) -> nn.Module:
    """A transformer encoder: at scale 1, 8 layers of d_model 768 (57M parameters), eval mode."""
    layers = max(1, round(8 * scale))
    layer = nn.TransformerEncoderLayer(d_model=768, nhead=12, dim_feedforward=3072, dropout=0.0,
                                       batch_first=True)
    return nn.TransformerEncoder(layer, num_layers=layers, enable_nested_tensor=False).eval()


class ConvStack(nn.Module):
    """A ResNet-like stack of residual conv blocks with BatchNorm, at 128x128."""

    def __init__(self, scale: float = 1.0, width: int = 64) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, width, 3, padding=1)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
                          nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width))
            for _ in range(max(1, round(4 * scale))))
        self.head = nn.Linear(width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.stem(x))
        for block in self.blocks:
            x = torch.relu(x + block(x))
        return self.head(x.mean(dim=(2, 3)))


def conv_stack(scale: float = 1.0) -> nn.Module:
    return ConvStack(scale).eval()


class MLP(nn.Module):
    """Residual blocks of Linear(1024 -> 4096) -> GELU -> Linear(4096 -> 1024), with LayerNorm."""

    def __init__(self, scale: float = 1.0, width: int = 1024) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(width), nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))
            for _ in range(max(1, round(6 * scale))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = x + block(x)
        return x


def mlp(scale: float = 1.0) -> nn.Module:
    return MLP(scale).eval()
