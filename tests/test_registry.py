"""``lutnas.registry.Registry``, the one helper behind the backend, space, strategy and evaluator
registries: unique names, lazy built-ins with an install hint, options checked against the
constructor's signature, and nothing a constructor raises swallowed."""

from __future__ import annotations

import itertools
import sys
import textwrap

import pytest

from lutnas.errors import LutnasError
from lutnas.registry import Registry
from lutnas.spaces.space import get_space
from profiler.base import get_backend
from search.evaluators import get_evaluator
from search.strategies import get_strategy

_names = itertools.count()


@pytest.fixture
def make_module(tmp_path, monkeypatch):
    """Writes a module under a fresh name on sys.path; returns its name. Not imported yet."""
    monkeypatch.syspath_prepend(str(tmp_path))
    made = []

    def make(source: str) -> str:
        made.append(f"lutnas_registry_test_{next(_names)}")
        (tmp_path / f"{made[-1]}.py").write_text(textwrap.dedent(source))
        return made[-1]

    yield make
    for name in made:
        sys.modules.pop(name, None)


class Widget:
    def __init__(self, size: int, colour: str = "red") -> None:
        self.size, self.colour = size, colour


class Flexible:
    def __init__(self, **options: object) -> None:
        self.options = options


def test_a_taken_name_is_refused_and_nothing_is_registered():
    registry = Registry("widget", builtins={"lazy": "some.module:Thing"})
    registry.register("small", Widget)
    for name, aliases in [("small", ()), ("lazy", ()), ("new", ("small",)), ("twice", ("twice",))]:
        with pytest.raises(LutnasError, match="widget name .* is already registered"):
            registry.register(name, Flexible, aliases=aliases)
    assert registry.list() == ["lazy", "small"]
    assert registry.lookup("small") is Widget


def test_aliases_name_the_same_entry():
    registry = Registry("widget")
    registry.register("small", Widget, aliases=("tiny",))
    assert registry.list() == ["small", "tiny"]
    assert registry.lookup("tiny") is registry.lookup("small") is Widget


def test_an_unknown_name_lists_the_choices():
    registry = Registry("widget", builtins={"lazy": "some.module:Thing"})
    registry.register("small", Widget)
    with pytest.raises(LutnasError, match=r"^unknown widget 'big'; choose one of lazy, small$"):
        registry.get("big")
    assert "big" not in registry and "lazy" in registry and "small" in registry


def test_builtins_are_imported_on_first_use_only(make_module):
    module = make_module("""
        class Thing:
            def __init__(self, size=1):
                self.size = size
    """)
    registry = Registry("widget", builtins={"thing": f"{module}:Thing"})
    assert registry.list() == ["thing"] and module not in sys.modules
    thing = registry.get("thing", size=3)
    assert thing.size == 3 and module in sys.modules
    assert registry.lookup("thing") is sys.modules[module].Thing


def test_a_missing_optional_dependency_says_what_to_install(make_module):
    uses_absent = make_module("import lutnas_absent_package.sub\nclass Thing: pass\n")
    registry = Registry(
        "widget",
        builtins={"mapped": f"{uses_absent}:Thing"},
        pip_names={"lutnas_absent_package": "lutnas-absent-dist"},
    )
    with pytest.raises(LutnasError) as err:
        registry.lookup("mapped")
    assert str(err.value) == (
        "widget 'mapped' needs a package that is not installed (lutnas_absent_package); "
        "install it with: pip install lutnas-absent-dist"
    )
    assert isinstance(err.value.__cause__, ModuleNotFoundError)
    plain = Registry("widget", builtins={"plain": f"{uses_absent}:Thing"})
    with pytest.raises(LutnasError, match="pip install lutnas_absent_package$"):
        plain.lookup("plain")


def test_an_import_error_of_an_installed_module_is_not_hidden(make_module):
    # a bug (a name that json does not have), not a missing package: no hint, the error itself
    buggy = make_module("from json import no_such_name\nclass Thing: pass\n")
    registry = Registry("widget", builtins={"buggy": f"{buggy}:Thing"})
    with pytest.raises(ImportError, match="no_such_name") as err:
        registry.lookup("buggy")
    assert not isinstance(err.value, LutnasError)


def test_a_type_error_inside_a_constructor_propagates_unchanged():
    bug = TypeError("unsupported operand type(s) for +: 'int' and 'str'")

    class Buggy:
        def __init__(self, size: int = 1) -> None:
            raise bug

    registry = Registry("widget")
    registry.register("buggy", Buggy)
    with pytest.raises(TypeError) as err:
        registry.get("buggy", size=2)
    assert err.value is bug


def test_an_unknown_option_is_named_with_the_accepted_ones():
    registry = Registry("widget")
    registry.register("small", Widget)
    with pytest.raises(LutnasError) as err:
        registry.get("small", size=1, color="blue")
    assert str(err.value) == (
        "bad option for widget 'small': it takes no option 'color' (its options: size, colour)"
    )


def test_a_missing_option_is_named():
    registry = Registry("widget")
    registry.register("small", Widget)
    with pytest.raises(LutnasError, match=r"option 'size' is required \(its options: size, colour"):
        registry.get("small", colour="blue")


def test_positional_arguments_are_not_listed_as_options():
    registry = Registry("widget")
    registry.register("small", Widget)
    assert registry.get("small", 4, colour="blue").size == 4
    with pytest.raises(LutnasError, match=r"no option 'size' \(its options: colour\)"):
        registry.get("small", 4, size=5)
    with pytest.raises(LutnasError, match="too many positional arguments"):
        registry.get("small", 4, "blue", "extra")


def test_a_constructor_taking_any_keyword_takes_every_option():
    registry = Registry("widget")
    registry.register("flexible", Flexible)
    assert registry.get("flexible", anything=1).options == {"anything": 1}


def test_ready_objects_are_looked_up_as_they_are():
    registry = Registry("palette")
    warm = registry.register("warm", ("red", "orange"))
    assert registry.lookup("warm") is warm


def test_a_copy_registers_independently():
    registry = Registry("widget", builtins={"lazy": "some.module:Thing"})
    copy = registry.copy()
    copy.register("small", Widget)
    assert registry.list() == ["lazy"] and copy.list() == ["lazy", "small"]


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: get_backend("tflite"), "unknown backend 'tflite'; choose one of adb, litert, "),
        (lambda: get_space("nope"), "unknown search space 'nope'; choose one of mnasnet"),
        (lambda: get_strategy("annealing", [2]), "unknown strategy 'annealing'; choose one of "),
        (lambda: get_evaluator("nope"), "unknown evaluator 'nope'; choose one of callable, "),
        (
            lambda: get_backend("onnxruntime", thread=2),
            "bad option for backend 'onnxruntime': it takes no option 'thread' (its options: "
            "threads, ",
        ),
        (
            lambda: get_strategy("evolution", [2], population=4),
            "bad option for strategy 'evolution': it takes no option 'population' (its options: "
            "seed, population_size, sample_size)",
        ),
        (
            lambda: get_evaluator("callable"),
            "bad option for evaluator 'callable': option 'fn' is required (its options: fn)",
        ),
    ],
)
def test_every_registry_words_its_errors_alike(build, message):
    with pytest.raises(LutnasError) as err:
        build()
    assert str(err.value).startswith(message)
