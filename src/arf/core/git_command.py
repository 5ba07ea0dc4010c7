"""Running the git command line: one place for the identity, the timeout and the error.

The Git/IaC executor, the git witness and the lab each drive a repository through `git`; each
turns a `GitCommandError` into its own layer's error.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from arf.core.errors import ArfError


class GitCommandError(ArfError):
    """git did not run, or answered non-zero; the message names the command and git's words."""


def run_git(
    root: Path,
    *args: str,
    author: str = "ARF",
    email: str = "arf@localhost",
    timeout_s: float = 60.0,
) -> str:
    """`git ARGS` in `root` with the given commit identity; git's standard output, as is."""
    try:
        done = subprocess.run(
            ["git", "-c", f"user.name={author}", "-c", f"user.email={email}", *args],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitCommandError(f"git {args[0]} did not run in {root}: {exc}") from exc
    if done.returncode != 0:
        raise GitCommandError(f"git {args[0]} failed in {root}: {done.stderr.strip()[-300:]}")
    return done.stdout
