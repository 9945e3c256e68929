"""Folders and name patterns the user wants left out of every scan (Preferences, or the
PHOTOSORT_EXCLUDE environment variable: one rule a line).

A rule is either a path (it contains a path separator or starts with `~`): that folder or file
and everything below it; or a pattern matched against each file's and folder's own name,
case-insensitively, with `*`, `?` and `[...]` (`Screenshots`, `*.png`, `*_edited.*`). Empty
lines and lines starting with `#` are ignored.

The variable is how the rules reach every scan the app makes: the grid's, the indexer's in
its child process (which inherits the environment) and the command line's.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable

EXCLUDE_ENV = "PHOTOSORT_EXCLUDE"


def parse_rules(text: str) -> list[str]:
    """The rules in `text`, one a line, without blanks and comments."""
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rules.append(line)
    return rules


class Exclusions:
    """Compiled rules; `excludes(path, name)` is cheap enough to ask for every entry."""

    def __init__(self, rules: Iterable[str] = ()) -> None:
        self.rules = [r for r in rules if r.strip()]
        self._paths: list[str] = []
        patterns: list[str] = []
        for rule in self.rules:
            rule = rule.strip()
            if rule.startswith("~") or os.sep in rule or (os.altsep and os.altsep in rule):
                path = os.path.normcase(os.path.abspath(os.path.expanduser(rule.rstrip("/\\"))))
                self._paths.append(path)
            else:
                patterns.append(fnmatch.translate(rule.lower()))
        self._names = re.compile("|".join(patterns)) if patterns else None

    def __bool__(self) -> bool:
        return bool(self.rules)

    def excludes(self, path: str, name: str) -> bool:
        if self._names is not None and self._names.match(name.lower()):
            return True
        if self._paths:
            p = os.path.normcase(path)
            return any(p == x or p.startswith(x + os.sep) for x in self._paths)
        return False

    @classmethod
    def from_environment(cls) -> Exclusions:
        return cls(parse_rules(os.environ.get(EXCLUDE_ENV, "")))


def set_environment(rules: Iterable[str]) -> None:
    """Make `rules` apply to every scan from now on (this process and its children)."""
    text = "\n".join(r for r in rules if r.strip())
    if text:
        os.environ[EXCLUDE_ENV] = text
    else:
        os.environ.pop(EXCLUDE_ENV, None)
