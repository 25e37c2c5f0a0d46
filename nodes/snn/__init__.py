"""Spiking neural network inference: NIR graphs run by Numba kernels, with early exit."""
from .early_exit import DynamicConfidence
from .network import InferResult, Network, load

__all__ = ["DynamicConfidence", "InferResult", "Network", "load"]
