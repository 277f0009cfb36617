"""Policies, one family per folder: :mod:`.recommenders`, :mod:`.bandits`, :mod:`.experiments`
and :mod:`.campaigns`; :mod:`.base` holds :class:`~.base.Policy`, :mod:`.registry` the kinds
and :mod:`.oracle` the upper-bound policy."""
