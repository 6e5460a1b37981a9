"""Print the README's two set-up commands (install, then test), one per line.

    python3 .ci/readme_commands.py [README.md]

They are the command lines of the first ```bash block under "## Set up" (comment lines and
blank lines left out). Exits 1, saying why, when that block does not hold exactly two, so CI
(.ci/run) can never run something other than what the README tells a newcomer.
"""

from __future__ import annotations

import sys
from pathlib import Path

HEADING = "## Set up"


def setup_commands(text: str) -> list[str]:
    """The command lines of the first bash block after the ``## Set up`` heading.

    Raises:
        ValueError: no such heading or block, or a block without exactly two commands.
    """
    at = text.find(HEADING)
    if at < 0:
        raise ValueError(f"no {HEADING!r} heading")
    lines = text[at:].splitlines()
    try:
        start = lines.index("```bash") + 1
        end = lines.index("```", start)
    except ValueError:
        raise ValueError(f"no ```bash block under {HEADING!r}") from None
    commands = [ln for ln in lines[start:end] if ln.strip() and not ln.lstrip().startswith("#")]
    if len(commands) != 2:
        raise ValueError(f"the set-up block holds {len(commands)} commands, not 2: {commands}")
    return commands


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else "README.md")
    try:
        commands = setup_commands(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return 1
    print("\n".join(commands))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
