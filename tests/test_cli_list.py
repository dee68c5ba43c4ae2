"""`nas list`: every registry printed from the registry itself, with choices and defaults."""

from __future__ import annotations

import pytest

from nas.backbones import BACKBONES
from nas.controllers import CONTROLLERS
from nas.objectives import OBJECTIVES
from nas.ops import OPS
from tests.conftest import run_nas


@pytest.mark.parametrize("what, registry", [("ops", OPS), ("backbones", BACKBONES), ("objectives", OBJECTIVES),
                                            ("controllers", CONTROLLERS)])
def test_every_registered_name_is_listed_once(what, registry):
    code, out, err = run_nas("list", what)
    assert code == 0, err
    heads = [line.split(":")[0] for line in out.splitlines() if not line.startswith(" ")]
    assert heads == registry.names()


def test_op_choices_show_their_values_and_defaults():
    _, out, _ = run_nas("list", "ops")
    block = out.split("\nmap:")[1].split("\n")[1:3]
    assert block[0].startswith("    dimension: temporal | spatial | spatiotemporal (default spatiotemporal)")
    _, out, _ = run_nas("list", "backbones")
    assert "i3d: " in out and "    insertion points: 4a, 4b, 4c, 4d, 4e" in out
    _, out, _ = run_nas("list", "controllers")
    assert "    initial (default 8)" in out



def test_the_lazy_command_table_matches_what_the_modules_register():
    """`nas --help` shows COMMANDS' help lines without importing the modules: they must agree."""
    import argparse

    from runners.cli import COMMANDS, build_parser

    parser = build_parser()  # every module loaded
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    registered = {choice.dest: choice.help for choice in action._choices_actions}
    assert registered == {command: help_line for command, (_, help_line) in COMMANDS.items()}
    lazy = build_parser(["space", "validate", "x.yaml"])  # only cmd_space loaded, the rest as help lines
    action = next(a for a in lazy._actions if isinstance(a, argparse._SubParsersAction))
    assert {choice.dest: choice.help for choice in action._choices_actions} == registered


def every_option(parser, name="nas"):
    """(command, action) for every option of every (sub)command of the parser."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for verb, sub in action.choices.items():
                yield from every_option(sub, f"{name} {verb}")
        elif action.option_strings and not isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            yield name, action


def test_every_option_has_a_help_line_and_every_default_is_shown():
    import argparse

    from runners.cli import build_parser

    parser = build_parser()
    options = list(every_option(parser))
    assert len(options) > 100
    for command, action in options:
        assert action.help, f"{command} {action.option_strings[0]} has no help line"
        if isinstance(action, argparse._StoreConstAction) or action.default in (None, [], argparse.SUPPRESS) \
                or action.default is False:
            continue
        words = command.split()[1:]
        sub = parser
        for word in words:
            sub = next(a for a in sub._actions if isinstance(a, argparse._SubParsersAction)).choices[word]
        shown = sub._get_formatter()._expand_help(action)  # the line `nas ... --help` prints
        assert "default" in shown, f"{command} {action.option_strings[-1]}: the help line does not show its default"
