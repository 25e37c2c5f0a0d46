"""Spiking neural network inference: NIR graphs run by Numba kernels, with early exit."""
from .early_exit import DynamicConfidence
from .network import InferResult, Network, load
from .nir_export import save, to_nir

__all__ = ["DynamicConfidence", "InferResult", "Network", "load", "save", "to_nir"]
