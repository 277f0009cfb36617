"""Optional report sections; :mod:`recarena.analysis.registry` lists them in report order."""
