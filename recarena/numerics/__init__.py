"""Shared numerical kernels of the bottom floor (no imports of the rest of recarena)."""
