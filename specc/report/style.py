"""Terminal styling: colour only on a terminal, and never when NO_COLOR is set."""
from __future__ import annotations

import os
import sys


class Style:
    def __init__(self, enabled: bool):
        self.enabled = enabled

    @classmethod
    def for_stream(cls, stream=None, force: bool | None = None) -> "Style":
        if force is not None:
            return cls(force)
        stream = stream or sys.stdout
        if os.environ.get("NO_COLOR"):
            return cls(False)
        return cls(hasattr(stream, "isatty") and stream.isatty())

    def _wrap(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled else text

    def bold(self, t): return self._wrap("1", t)
    def dim(self, t): return self._wrap("2", t)
    def red(self, t): return self._wrap("31;1", t)
    def yellow(self, t): return self._wrap("33;1", t)
    def blue(self, t): return self._wrap("34", t)
    def green(self, t): return self._wrap("32", t)
