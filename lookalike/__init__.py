"""lookalike: visual product search and similar-product recommendations."""

__version__ = "0.1.0"
