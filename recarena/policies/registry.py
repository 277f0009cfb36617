"""Registry of policies by string id (``kind``), with "did you mean" errors and plugins.

Built-in policies register themselves with :func:`register` when their module is imported;
:func:`_load_builtins` imports the modules listed in ``BUILTIN_MODULES`` the first time the
registry is read, so ``import recarena`` stays light. Policy modules import heavy libraries
(torch, implicit, lightfm, catboost) inside the methods that need them, not at module level.

A scenario may also name a policy class outside the package with
``{kind: plugin, plugin: "package.module:ClassName", params: {...}}``; that is the only way
a scenario file can make recarena import code. A scenario that uses plugins is therefore
code: plugins are loaded only inside :func:`allow_plugins` (the CLI's ``--allow-plugins``,
the API's ``allow_plugins=True``) or with the environment variable
``RECARENA_ALLOW_PLUGINS=1`` (for CI); otherwise naming one is a
:class:`PluginsNotAllowedError` and nothing is imported.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from pydantic import ValidationError

from recarena.policies.base import Policy, PolicyParams, params_kind

__all__ = [
    "BUILTIN_MODULES",
    "PLUGINS_ENV",
    "PluginsNotAllowedError",
    "UnknownPolicyError",
    "allow_plugins",
    "available",
    "get",
    "load_plugin",
    "make",
    "parse_params",
    "plugins_allowed",
    "register",
]

#: Environment variable that allows plugin policies when set to ``1``.
PLUGINS_ENV = "RECARENA_ALLOW_PLUGINS"

BUILTIN_MODULES: tuple[str, ...] = (
    "recarena.policies.bandits.context_free",
    "recarena.policies.bandits.item_linear",
    "recarena.policies.bandits.linear",
    "recarena.policies.campaigns.lookalike",
    "recarena.policies.campaigns.nba",
    "recarena.policies.campaigns.segmentation",
    "recarena.policies.campaigns.uplift",
    "recarena.policies.experiments.ab_split",
    "recarena.policies.experiments.bandit_over_policies",
    "recarena.policies.experiments.fixed",
    "recarena.policies.oracle",
    "recarena.policies.recommenders.association",
    "recarena.policies.recommenders.collaborative",
    "recarena.policies.recommenders.content",
    "recarena.policies.recommenders.heuristics",
    "recarena.policies.recommenders.hybrid",
    "recarena.policies.recommenders.neural",
    "recarena.policies.recommenders.ranking",
)

_REGISTRY: dict[str, type[Policy]] = {}
_builtins_loaded = False
_plugins_allowed: ContextVar[bool] = ContextVar("plugins_allowed", default=False)

P = TypeVar("P", bound=type[Policy])


class UnknownPolicyError(KeyError):
    """A policy kind that is not registered; the message lists close matches."""

    def __str__(self) -> str:
        return str(self.args[0])


class PluginsNotAllowedError(ValueError):
    """A plugin policy was named where plugins are not allowed."""


def plugins_allowed() -> bool:
    """Whether plugin policies may be imported here (see the module docstring)."""
    return _plugins_allowed.get() or os.environ.get(PLUGINS_ENV) == "1"


@contextmanager
def allow_plugins(allowed: bool = True) -> Iterator[None]:
    """Within the block, plugin policies are loaded when ``allowed`` (or the environment
    variable is set)."""
    token = _plugins_allowed.set(allowed or _plugins_allowed.get())
    try:
        yield
    finally:
        _plugins_allowed.reset(token)


def register(cls: P) -> P:
    """Class decorator: add a :class:`Policy` subclass to the registry under ``cls.kind``."""
    if not cls.kind:
        raise ValueError(f"{cls.__name__} has no kind: declare kind: Literal[...] in its Params")
    if cls.kind in _REGISTRY and _REGISTRY[cls.kind] is not cls:
        raise ValueError(f"policy kind {cls.kind!r} registered twice")
    if params_kind(cls.Params) != cls.kind:
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
    """Import ``"package.module:ClassName"`` and check that it is a concrete :class:`Policy`.

    Raises :class:`PluginsNotAllowedError` outside :func:`allow_plugins` (nothing is
    imported) and ``ValueError`` for a malformed path, a module that fails to import, or a
    class that is not a concrete policy.
    """
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name.strip(".") or not attr or module_name.startswith("."):
        raise ValueError(f"plugin must look like 'package.module:ClassName', got {path!r}")
    if not plugins_allowed():
        raise PluginsNotAllowedError(
            f"plugin {path!r} is code from outside recarena and is not loaded unless allowed: "
            f"pass --allow-plugins (Python: allow_plugins=True, CI: {PLUGINS_ENV}=1)"
        )
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # importing runs arbitrary code: any failure is the plugin's
        raise ValueError(f"plugin module {module_name!r} cannot be imported: {exc}") from None
    cls = getattr(module, attr, None)
    if not (isinstance(cls, type) and issubclass(cls, Policy)):
        raise ValueError(f"plugin {path!r} is not a recarena Policy subclass")
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
        raise ValueError(f"plugin {path!r} is abstract (does not implement {missing})")
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
        extra = sorted(set(config) - {"kind", "plugin", "params"})
        if extra:
            raise ValueError(f"a plugin entry takes kind, plugin and params; got {extra}")
        plugin = config.get("plugin")
        if not isinstance(plugin, str):
            raise ValueError(f"plugin must be a string 'package.module:ClassName', got {plugin!r}")
        given = config.get("params") or {}
        if not isinstance(given, Mapping):
            raise ValueError(f"plugin params must be a mapping, got {type(given).__name__}")
        cls = load_plugin(plugin)
        params = cls.Params.model_validate({**given, "kind": cls.kind})
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
