"""Registry of policies by string id (``kind``), with "did you mean" errors and plugins.

Built-in policies register themselves with :func:`register` when their module is imported;
:func:`_load_builtins` imports the modules listed in ``BUILTIN_MODULES`` the first time the
registry is read, so ``import recarena`` stays light. Policy modules import heavy libraries
(torch, implicit, lightfm, catboost) inside the methods that need them, not at module level.

A scenario may also name a policy class outside the package with
``{kind: plugin, plugin: "package.module:ClassName", params: {...}}``; that is the only way
a scenario file can make recarena import code, and it is documented as such.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from recarena.policies.base import Policy, PolicyParams

__all__ = [
    "BUILTIN_MODULES",
    "UnknownPolicyError",
    "available",
    "get",
    "load_plugin",
    "make",
    "parse_params",
    "register",
]

BUILTIN_MODULES: tuple[str, ...] = (
    "recarena.policies.association",
    "recarena.policies.bandits",
    "recarena.policies.collaborative",
    "recarena.policies.content",
    "recarena.policies.experiments",
    "recarena.policies.heuristics",
    "recarena.policies.hybrid",
    "recarena.policies.lookalike",
    "recarena.policies.nba",
    "recarena.policies.neural",
    "recarena.policies.oracle",
    "recarena.policies.ranking",
    "recarena.policies.segmentation",
    "recarena.policies.uplift",
)

_REGISTRY: dict[str, type[Policy]] = {}
_builtins_loaded = False

P = TypeVar("P", bound=type[Policy])


class UnknownPolicyError(KeyError):
    """A policy kind that is not registered; the message lists close matches."""

    def __str__(self) -> str:
        return str(self.args[0])


def register(cls: P) -> P:
    """Class decorator: add a :class:`Policy` subclass to the registry under ``cls.kind``."""
    if not cls.kind:
        raise ValueError(f"{cls.__name__} has no kind")
    if cls.kind in _REGISTRY and _REGISTRY[cls.kind] is not cls:
        raise ValueError(f"policy kind {cls.kind!r} registered twice")
    if cls.Params.model_fields["kind"].annotation is str:
        raise TypeError(f"{cls.__name__}.Params must declare kind: Literal[{cls.kind!r}]")
    _REGISTRY[cls.kind] = cls
    return cls


def _load_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        for module in BUILTIN_MODULES:
            importlib.import_module(module)


def available() -> dict[str, type[Policy]]:
    """All registered policies, sorted by kind."""
    _load_builtins()
    return dict(sorted(_REGISTRY.items()))


def get(kind: str) -> type[Policy]:
    """The policy class registered as ``kind``; raises :class:`UnknownPolicyError`."""
    registry = available()
    if kind not in registry:
        close = difflib.get_close_matches(kind, list(registry), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownPolicyError(
            f"unknown policy kind {kind!r}.{hint} Allowed: {', '.join(registry)}, plugin."
        )
    return registry[kind]


def load_plugin(path: str) -> type[Policy]:
    """Import ``"package.module:ClassName"`` and check that it is a :class:`Policy`."""
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"plugin must look like 'package.module:ClassName', got {path!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"plugin module {module_name!r} cannot be imported: {exc}") from exc
    cls = getattr(module, attr, None)
    if not (isinstance(cls, type) and issubclass(cls, Policy)):
        raise ValueError(f"plugin {path!r} is not a recarena Policy subclass")
    return cls


def parse_params(config: Mapping[str, Any]) -> tuple[type[Policy], PolicyParams]:
    """Validate a policy config mapping (``{kind: ..., **params}``) into its class and params.

    Raises
    ------
    UnknownPolicyError
        For an unknown ``kind``.
    pydantic.ValidationError
        For unknown or invalid parameters (the caller formats it with the key path).
    """
    config = dict(config)
    kind = config.get("kind")
    if not isinstance(kind, str):
        raise UnknownPolicyError(
            f"a policy needs a 'kind'. Allowed: {', '.join(available())}, plugin."
        )
    if kind == "plugin":
        cls = load_plugin(str(config.get("plugin", "")))
        params = cls.Params.model_validate({"kind": cls.kind, **config.get("params", {})})
        return cls, params
    cls = get(kind)
    return cls, cls.Params.model_validate(config)


def make(config: Mapping[str, Any] | PolicyParams) -> Policy:
    """Build a policy from a config mapping or a validated params model."""
    if isinstance(config, PolicyParams):
        return get(config.kind)(config)
    cls, params = parse_params(config)
    return cls(params)


# Re-exported for callers that want to catch validation problems without importing pydantic.
PolicyValidationError = ValidationError
