"""Models for the example config: small, real torch.nn building blocks."""

import torch
from torch import nn


class MLP(nn.Module):
    def __init__(self, d_in: int = 32, hidden: int = 64, d_out: int = 10) -> None:
        super().__init__()
        self.fc1 = nn.Linear(d_in, hidden)
        self.fc2 = nn.Linear(hidden, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x)))


def conv_bn(channels: int = 8) -> nn.Module:
    """Conv + BatchNorm in training mode: the running statistics it updates are verified too."""
    return nn.Sequential(nn.Conv2d(3, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten())


def toy_example(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The function from torch.compile's tutorial: a data-dependent branch makes a graph break."""
    x = a / (torch.abs(a) + 1)
    if b.sum() < 0:
        b = b * -1
    return x * b
