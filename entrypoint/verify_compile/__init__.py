"""verify-compile: prove that torch.compile gives the same answers as eager PyTorch."""

__version__ = "1.0.0"
