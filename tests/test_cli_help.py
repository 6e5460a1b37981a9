"""Every option of every command has a help text, and the help of an option with a default
says it (issue 14: a new user reads ``--help`` before anything else)."""

from __future__ import annotations

import argparse

import pytest

from lutnas.cli.main import build_parser


def _parsers() -> dict[str, argparse.ArgumentParser]:
    """Command name -> parser, nested subcommands included (``lut show``)."""
    out = {}
    todo = [("lutnas", build_parser())]
    while todo:
        name, parser = todo.pop()
        out[name] = parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo += [(f"{name} {sub}", p) for sub, p in action.choices.items()]
    return out


PARSERS = _parsers()


def _undocumented(parser: argparse.ArgumentParser) -> list[str]:
    problems = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._VersionAction):
            continue
        if isinstance(action, argparse._SubParsersAction) or not action.option_strings:
            continue  # positionals are named in the usage line
        name = action.option_strings[-1]
        if not action.help:
            problems.append(f"{name}: no help")
        elif action.default not in (None, False, []) and "default" not in action.help:
            problems.append(f"{name}: default {action.default!r} not said")
    return problems


@pytest.mark.parametrize("command", sorted(PARSERS))
def test_every_option_has_help_and_says_its_default(command):
    assert _undocumented(PARSERS[command]) == []


def test_search_help_says_what_the_default_evaluator_costs():
    text = " ".join(PARSERS["lutnas search"].format_help().split())
    assert "default: proxy-train" in text and "per candidate" in text
