"""Every shell command the README and docs show is run by an e2e test, or says why it cannot be.

A reader copies commands. A block of commands is preceded either by ``<!-- e2e: NAME -->``
(an e2e test reads the block by that name with ``documented_commands`` and runs each line as
written) or by ``<!-- not run by tests: REASON -->`` for what needs a real AWS account or a real
BigCommerce store; the reason names the tests that run the same code against moto and the
sandbox.  A new block without either marker fails here, so an untested command cannot slip in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted([REPO / "README.md", *(REPO / "docs").rglob("*.md")])
SHELL_LANGUAGES = {"sh", "bash", "shell", "console", "zsh"}
# An unlabelled block is output or a diagram, unless a line of it reads like a command.
COMMAND_LINE = re.compile(r"^(\$ |uv run |\./|npx |npm |aws |curl |cartwatch |source |export )")
BLOCK = re.compile(r"^```(?P<language>\w*)\n(?P<body>.*?)^```", re.DOTALL | re.MULTILINE)
E2E = re.compile(r"<!-- e2e: (?P<name>[\w-]+) -->\n$")
NOT_RUN = re.compile(r"<!-- not run by tests: (?P<reason>[^>]{40,}) -->\n$")


@dataclass(frozen=True)
class ShellBlock:
    document: Path
    line: int
    marker: str  # the text before the block on its own line(s)
    body: str

    def __str__(self) -> str:
        return f"{self.document.relative_to(REPO)}:{self.line}"


def shell_blocks(document: Path) -> list[ShellBlock]:
    text = document.read_text(encoding="utf-8")
    blocks = []
    for found in BLOCK.finditer(text):
        body = found.group("body")
        language = found.group("language").lower()
        if language in SHELL_LANGUAGES or (
            not language and any(COMMAND_LINE.match(line) for line in body.splitlines())
        ):
            start = found.start()
            marker = text[text.rfind("\n", 0, max(start - 1, 0)) + 1 : start]
            blocks.append(ShellBlock(document, text.count("\n", 0, start) + 1, marker, body))
    return blocks


BLOCKS = [block for document in DOCUMENTS for block in shell_blocks(document)]
E2E_SOURCES = "\n".join(path.read_text(encoding="utf-8") for path in (REPO / "tests" / "e2e").glob("*.py"))


def test_the_documents_show_shell_commands() -> None:
    # Guards the scan itself: a broken pattern would find nothing and pass every block below.
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("block", BLOCKS, ids=str)
def test_every_documented_command_block_is_run_or_says_why_not(block: ShellBlock) -> None:
    run = E2E.search(block.marker)
    if run:
        name = run.group("name")
        assert f'"{name}"' in E2E_SOURCES, f"{block}: no test under tests/e2e/ runs the block named {name!r}"
        return
    assert NOT_RUN.search(block.marker), (
        f"{block}: a shell block needs `<!-- e2e: NAME -->` (and an e2e test that runs it) or "
        "`<!-- not run by tests: REASON -->` naming the tests that cover the same commands"
    )
