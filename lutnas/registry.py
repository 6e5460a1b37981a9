"""Registries by name: profiler backends, search spaces, strategies and evaluators.

One :class:`Registry` per kind of thing. Names are unique: registering a taken name is an
error. Built-ins are ``"module:attr"`` strings imported on first use, so importing a registry
costs nothing and an optional dependency is needed only by the entry that uses it::

    _BACKENDS = Registry(
        "backend",
        builtins={"litert": "profiler.backends.litert:LiteRtBackend"},
        pip_names={"ai_edge_litert": "ai-edge-litert"},
    )
    _BACKENDS.register("mine", MyBackend)
    _BACKENDS.list()                       # ['litert', 'mine']
    _BACKENDS.get("litert", threads=1)     # LiteRtBackend(threads=1)

Errors a user can fix are :class:`~lutnas.errors.LutnasError`: an unknown name (the message
lists the choices), a built-in whose optional dependency is not installed (the message gives
the ``pip install``), options the constructor does not take or a required one left out (the
message lists the accepted ones). Options are checked against the constructor's signature
before the call; whatever the constructor itself raises, a ``TypeError`` included, propagates
unchanged.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from lutnas.errors import LutnasError

T = TypeVar("T")

_OPTION_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


class Registry(Generic[T]):
    """Named entries of one kind: classes (or factories) to build, or ready objects.

    Args:
        kind: what the entries are, as messages name them (``"backend"``, ``"search space"``).
        builtins: name -> ``"module:attr"``, imported by the first :meth:`lookup` of the name.
        pip_names: import name -> the distribution ``pip install`` needs, where they differ
            (``{"ai_edge_litert": "ai-edge-litert"}``); other missing modules are named as is.
    """

    def __init__(
        self,
        kind: str,
        builtins: Mapping[str, str] | None = None,
        pip_names: Mapping[str, str] | None = None,
    ) -> None:
        self.kind = kind
        self._builtins = dict(builtins or {})
        for name, target in self._builtins.items():
            if target.count(":") != 1:
                raise ValueError(f"built-in {kind} {name!r}: {target!r} is not 'module:attr'")
        self._pip_names = dict(pip_names or {})
        self._entries: dict[str, T] = {}  # registered, and built-ins once imported

    def register(self, name: str, obj: T, aliases: Sequence[str] = ()) -> T:
        """Add ``obj`` under ``name`` and each of ``aliases``; returns ``obj``.

        Raises:
            LutnasError: a name is taken (by a built-in too); nothing is registered then.
        """
        names = [name, *aliases]
        taken = [n for n in names if n in self]
        if taken or len(set(names)) < len(names):
            which = ", ".join(repr(n) for n in taken) or repr(name)
            raise LutnasError(f"{self.kind} name {which} is already registered")
        for n in names:
            self._entries[n] = obj
        return obj

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._builtins

    def lookup(self, name: str) -> T:
        """The entry registered as ``name``, importing a built-in on first use.

        Raises:
            LutnasError: unknown name (the message lists the choices), or a built-in whose
                optional dependency is not installed (the message says what to ``pip install``).
        """
        if name in self._entries:
            return self._entries[name]
        if name not in self._builtins:
            choices = ", ".join(self.list())
            raise LutnasError(f"unknown {self.kind} {name!r}; choose one of {choices}")
        module_name, _, attr = self._builtins[name].partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            dist = self._missing_distribution(exc)
            if dist is None:  # not a missing package: a bug or a broken install, shown as is
                raise
            raise LutnasError(
                f"{self.kind} {name!r} needs a package that is not installed ({exc.name}); "
                f"install it with: pip install {dist}"
            ) from exc
        obj = getattr(module, attr)
        self._entries[name] = obj
        return obj

    def get(self, name: str, /, *args: Any, **options: Any) -> Any:
        """Build the entry registered as ``name``: ``entry(*args, **options)``.

        ``options`` are checked against the entry's signature first (see
        :func:`check_options`); the call itself is not wrapped.

        Raises:
            LutnasError: unknown name, missing optional dependency, an option the entry does
                not take or a required one left out.
        """
        factory = self.lookup(name)
        check_options(factory, args, options, f"{self.kind} {name!r}")
        return factory(*args, **options)

    def copy(self) -> Registry[T]:
        """An independent registry with the same entries (to register in tests and undo)."""
        other: Registry[T] = Registry(self.kind, self._builtins, self._pip_names)
        other._entries = dict(self._entries)
        return other

    def _missing_distribution(self, exc: ImportError) -> str | None:
        """What to ``pip install`` for ``exc``, or None when the module it names is installed
        (the import failed for another reason, which a hint would hide)."""
        missing = exc.name or ""
        top = missing.partition(".")[0]
        if not top or importlib.util.find_spec(top) is not None:
            return None
        return self._pip_names.get(missing) or self._pip_names.get(top) or top

    def list(self) -> list[str]:
        """Every name, built-in (imported or not) and registered, sorted."""
        return sorted({*self._builtins, *self._entries})


def check_options(
    factory: Callable[..., Any], args: Sequence[Any], options: Mapping[str, Any], what: str
) -> None:
    """Check that ``factory(*args, **options)`` matches the factory's signature.

    ``what`` names the factory in the message (``"evaluator 'zero-cost'"``). The accepted
    options listed are the parameters ``args`` leaves to be given by name.

    Raises:
        LutnasError: an option the factory does not take, or a required one left out.
    """
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # no signature to check (some builtins): the call decides
        return
    params = list(signature.parameters.values())
    free = [p for p in params[len(args) :] if p.kind in _OPTION_KINDS]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        unknown: list[str] = []
    else:
        unknown = [key for key in options if key not in {p.name for p in free}]
    missing = [
        p.name for p in free if p.default is inspect.Parameter.empty and p.name not in options
    ]
    accepted = ", ".join(p.name for p in free) or "none"
    if unknown:
        raise LutnasError(
            f"bad option for {what}: it takes no option {', '.join(map(repr, unknown))} "
            f"(its options: {accepted})"
        )
    if missing:
        raise LutnasError(
            f"bad option for {what}: option {', '.join(map(repr, missing))} is required "
            f"(its options: {accepted})"
        )
    try:
        signature.bind(*args, **options)
    except TypeError as exc:  # anything else the signature refuses (too many positions, ...)
        raise LutnasError(f"bad option for {what}: {exc} (its options: {accepted})") from None
