"""The command line itself: usage errors, secret input, masking — all before any socket opens."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from cartwatch_tools.cli.errors import UsageError
from cartwatch_tools.cli.main import main
from cartwatch_tools.cli.secret_input import ACCESS_TOKEN, add_secret_argument, mask, read_secret


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("cartwatch: error: ")
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["stores", "add", "abc123", "--stages", "2h,1h"], "--stages: stage delays must increase"),
        (["stores", "add", "abc123", "--stages", "40d"], "before BigCommerce expires the cart"),
        (["stores", "add", "ABC!", "--access-token", "t"], "is not a BigCommerce store hash"),
        (["stores", "frobnicate"], "invalid choice: 'frobnicate'"),
        (["stores"], "required: COMMAND"),
        ([], "required: COMMAND"),
        (["stores", "add", "abc123", "--access-token", "a", "--access-token-file", "f"], "not allowed with"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    code, out, err = run(capsys, *argv)

    assert code == 2
    assert out == ""
    assert expected in one_error_line(err)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["local", "--cache-seconds", "-1"], "--cache-seconds must be 0 or more, not -1"),
        (["local", "--duplicate-rate", "2"], "--duplicate-rate must be between 0 and 1"),
    ],
)
def test_local_refuses_impossible_settings_before_it_starts(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    code, out, err = run(capsys, *argv)

    assert code == 1
    assert out == ""  # nothing started
    assert expected in one_error_line(err)


def test_a_mistyped_secret_flag_does_not_echo_its_value(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "stores", "list", "--acces-token", "super-secret-value")

    assert code == 2
    assert "--acces-token" in one_error_line(err)
    assert "super-secret-value" not in err


def test_a_missing_secret_is_named_by_its_flag(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CARTWATCH_ACCESS_TOKEN", raising=False)

    code, _, err = run(capsys, "stores", "add", "abc123", "--client-secret", "s")

    assert code == 2
    assert "missing --access-token" in one_error_line(err)


def test_a_missing_info_file_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # the default .cartwatch/local.json is not there

    code, _, err = run(capsys, "stores", "list", "--local")

    assert code == 1
    assert ".cartwatch/local.json not found" in one_error_line(err)


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "stores", "add", "--help")

    assert code == 0
    assert "--access-token-file" in out
    assert "--require-signature" in out


def parse_secret(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_secret_argument(parser, ACCESS_TOKEN)
    return parser.parse_args(argv)


def test_a_secret_comes_from_the_flag_then_the_file_then_the_environment(tmp_path: Path) -> None:
    secret_file = tmp_path / "token"
    secret_file.write_text("from-file\n")
    env = {"CARTWATCH_ACCESS_TOKEN": "from-env"}

    assert read_secret(parse_secret(["--access-token", "from-flag"]), ACCESS_TOKEN, env) == "from-flag"
    assert (
        read_secret(parse_secret(["--access-token-file", str(secret_file)]), ACCESS_TOKEN, env) == "from-file"
    )
    assert read_secret(parse_secret([]), ACCESS_TOKEN, env) == "from-env"
    with pytest.raises(UsageError, match="missing --access-token"):
        read_secret(parse_secret([]), ACCESS_TOKEN, {"CARTWATCH_ACCESS_TOKEN": "  "})


def test_masks_show_at_most_four_characters() -> None:
    assert mask("abcdefghijklmnopqrstuvwxyz") == "****wxyz"
    assert mask("short-secret") == "****"
    assert mask(None) == "(none)"


def test_no_command_runs_the_command_line_to_do_its_work() -> None:
    """Commands call the operations they share (``StoreAdmin``…), never ``cli.main`` — no import cycle."""
    import ast

    from cartwatch_tools import cli

    package = Path(cli.__file__).parent
    importers = []
    for module in package.glob("*.py"):
        if module.name == "main.py":
            continue
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "cartwatch_tools.cli.main":
                importers.append(module.name)
            if (
                isinstance(node, ast.ImportFrom)
                and node.module == "cartwatch_tools.cli"
                and any(alias.name == "main" for alias in node.names)
            ):
                importers.append(module.name)
    assert importers == []
