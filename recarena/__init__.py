"""recarena: recommendation and personalization policies meet a simulated user population."""

__version__ = "0.1.0"
