"""Every command's --help ends with examples, and --version says the version."""

from __future__ import annotations

import argparse

import pytest

from crossroads import __version__, cli


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli._parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_the_top_level_help_lists_examples_of_every_client_command():
    text = cli._parser().format_help()
    assert "examples:" in text
    for name in ("serve", "check-config", "models", "generation", "bench", "keys"):
        assert f"  crossroads {name}" in text


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_each_command_help_has_examples(name: str):
    text = subcommands()[name].format_help()
    assert "examples:" in text
    assert f"crossroads {name}" in text.split("examples:", 1)[1]


def test_version(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"crossroads {__version__}"
