"""Turning command-line paths (files, directories, globs) into spec files."""
from __future__ import annotations

import glob
import os

SPEC_SUFFIXES = (".yaml", ".yml")


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
