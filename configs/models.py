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


def gated(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """toy_example without its branch on values, so torch.export can export it (a branch needs torch.cond). Its
    relu is what torch's test backend relu_accuracy_error_TESTING_ONLY breaks on purpose."""
    return torch.relu(a) * b + a / (torch.abs(a) + 1)


class Seq(nn.Module):
    """A small sequence model that offers its own inputs (`example_inputs`), so its config entry needs none."""

    def __init__(self, d_model: int = 16, hidden: int = 32) -> None:
        super().__init__()
        self.d_model = d_model
        self.proj = nn.Linear(d_model, hidden)
        self.out = nn.Linear(hidden, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, d_model] -> [B, d_model]
        return self.out(torch.relu(self.proj(x))).mean(dim=1)

    def example_inputs(self) -> tuple:
        # Called under the run's seed (and once more under another for the re-drawn call): values are reproducible.
        return (torch.randn(2, 5, self.d_model),)
