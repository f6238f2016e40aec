"""steadygan: train GANs that do not fall apart."""

__version__ = "0.1.0"
