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


def expand_paths(args) -> tuple[list[str], list[str]]:
    """(spec files in a stable order, arguments that matched nothing)."""
    found, missing = [], []
    for arg in args:
        if os.path.isdir(arg):
            matches = []
            for root, dirs, files in os.walk(arg):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "node_modules")
                matches += [os.path.join(root, f) for f in sorted(files)
                            if f.endswith(SPEC_SUFFIXES)]
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
