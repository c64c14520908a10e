"""Turning command-line paths (files, directories, globs) into spec files."""
from __future__ import annotations

import glob
import os
import re

SPEC_SUFFIXES = (".yaml", ".yml")


_SPEC_KEY = re.compile(rb"^(specc|layers)\s*:", re.M)


def looks_like_spec(path: str) -> bool:
    """A cheap test for pre-commit hooks that see every YAML file of a repository."""
    try:
        with open(path, "rb") as handle:
            return bool(_SPEC_KEY.search(handle.read(1_000_000)))
    except OSError:
        return True  # let check report the problem


def git_ignored(paths: list[str], folder: str) -> set[str]:
    """The paths git ignores (.gitignore, .git/info/exclude, the global excludes), asked of
    git itself so every rule means what it means to git; nothing outside a repository or
    without git."""
    import subprocess

    if not paths:
        return set()
    try:
        result = subprocess.run(["git", "-C", folder, "check-ignore", "--no-index", "-z",
                                 "--stdin"], input="\0".join(os.path.abspath(p) for p in paths),
                                capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return set()
    if result.returncode not in (0, 1):  # 128: not a repository
        return set()
    ignored = set(filter(None, result.stdout.split("\0")))
    return {p for p in paths if os.path.abspath(p) in ignored}


def expand_paths(args, all_yaml: bool = False) -> tuple[list[str], list[str]]:
    """(spec files in a stable order, arguments that matched nothing).

    A directory yields its YAML files that look like specs (a top-level ``specc:`` or
    ``layers:``) and that git does not ignore; ``all_yaml`` keeps every YAML file. Files
    named on the command line are always kept."""
    found, missing = [], []
    for arg in args:
        if os.path.isdir(arg):
            matches = []
            for root, dirs, files in os.walk(arg):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "node_modules")
                matches += [os.path.join(root, f) for f in sorted(files)
                            if f.endswith(SPEC_SUFFIXES)]
            if not all_yaml:
                skipped = git_ignored(matches, arg)
                matches = [m for m in matches if m not in skipped and looks_like_spec(m)]
                if not matches:
                    continue  # a folder without specs is not a typo
        elif os.path.exists(arg):
            matches = [arg]
        else:
            matches = sorted(glob.glob(arg, recursive=True))
        if not matches:
            missing.append(arg)
        found += [m for m in matches if m not in found]
    return found, missing


def atomic_write(path: str, write) -> None:
    """Write through a temporary file in the same folder, then rename into place."""
    import tempfile

    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".specc-", suffix=os.path.splitext(path)[1], dir=folder)
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
