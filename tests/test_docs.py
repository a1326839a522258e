"""The README documents every command and every option that `--help` shows."""

from __future__ import annotations

import re

import click
from conftest import ROOT

from digest.cli import cli

README = (ROOT / "README.md").read_text()


def test_every_command_and_option_is_in_the_readme():
    for name, command in cli.commands.items():
        heading = re.search(rf"^### digest {name}\b.*$", README, re.M) or re.search(
            rf"^### .*\bdigest {name}\b.*$", README, re.M
        )
        assert heading, f"README has no section for 'digest {name}'"
        section = README[heading.end() :].split("\n### ")[0]
        for param in command.params:
            if isinstance(param, click.Option):
                assert any(opt in section for opt in param.opts), (name, param.opts)


def test_quick_start_is_exactly_the_two_commands():
    quick = README.split("## Quick start", 1)[1].split("```")[1]
    assert quick.strip().splitlines() == ["make demo", "make test"]
