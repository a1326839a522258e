"""The help and the README kept honest: every command's `--help` works and shows an example,
the README documents every command and option, and every `digest …` it shows exists."""

from __future__ import annotations

import re
from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner
from conftest import ROOT

from digest.cli import cli

README = (ROOT / "README.md").read_text()


def _walk(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    ctx = click.Context(group, info_name="digest")
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from _walk(command, (*path, name))


COMMANDS = [(), *_walk(cli)]


def _resolve(path: list[str]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), name)
        assert found is not None, f"no command 'digest {' '.join(path)}'"
        command = found
    return command


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(("digest", *p)))
def test_every_command_has_help_with_an_example(path):
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="digest")
    assert result.exit_code == 0, result.output
    assert "Usage: digest" in result.output
    assert "Example" in result.output, f"'digest {' '.join(path)} --help' shows no example"


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


def _readme_commands() -> list[str]:
    """Every `digest …` the README shows: lines of its code blocks and inline code."""
    fenced = re.findall(r"```[^\n]*\n(.*?)```", README, re.S)
    prose = re.sub(r"```[^\n]*\n.*?```", "", README, flags=re.S)
    found = [
        line.strip().removeprefix("$ ")
        for block in fenced
        for line in block.splitlines()
        if line.strip().removeprefix("$ ").startswith("digest ")
    ]
    found += [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose)]
    commands = []
    for text in found:
        for part in re.split(r"&&|;", text):
            part = part.strip()
            if part.startswith("digest ") or part.startswith(".venv/bin/digest "):
                commands.append(part.removeprefix(".venv/bin/"))
    return commands


def _check(text: str) -> None:
    tokens = [t.strip("[]") for t in text.split()[1:]]
    command: click.Command = cli
    path: list[str] = []
    for token in tokens:
        if token.startswith(">") or token.startswith("#"):
            break
        if token.startswith("-"):
            option = token.split("=")[0]
            known = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
            assert option in known | {"--help", "-h"}, f"README: {text!r}: no option {option}"
            continue
        if isinstance(command, click.Group) and re.fullmatch(r"[a-z][a-z-]*", token):
            command = _resolve([*path, token])
            path.append(token)
    assert path, f"README: {text!r} names no command"


def test_every_digest_command_in_the_readme_exists_with_its_options():
    commands = _readme_commands()
    assert len(commands) > 20
    for text in commands:
        _check(text)


def test_the_readme_check_catches_a_wrong_command_or_option():
    with pytest.raises(AssertionError, match="no option --colour"):
        _check("digest papers --colour red")
    with pytest.raises(AssertionError, match="no command 'digest subscribers purge'"):
        _check("digest subscribers purge")


def test_quick_start_is_exactly_the_two_commands():
    quick = README.split("## Quick start", 1)[1].split("```")[1]
    assert quick.strip().splitlines() == ["make demo", "make test"]
