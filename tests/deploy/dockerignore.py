"""Docker's build-context rules, in Python, to compute what `docker build .` would send.

Follows moby's `dockerignore.ReadAll` and `patternmatcher` (the same rules BuildKit applies):
- each line is trimmed; empty lines and lines starting with `#` are skipped;
- `!` makes an exception; the pattern is cleaned like Go's `filepath.Clean` and a leading `/`
  is dropped (patterns are relative to the context root);
- `*` matches any run of characters but `/`, `?` one character but `/`, `[...]` a class
  (Go's filepath.Match), `**` any number of directories (also none), `\\` escapes;
- a path is excluded when the LAST pattern matching it, or one of its parent directories, is not
  an exception.
Source: https://docs.docker.com/build/concepts/context/#dockerignore-files and
github.com/moby/patternmatcher (patternmatcher.go: `compile`, `MatchesOrParentMatches`).
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

_REGEX_SPECIALS = set(".+()|{}$^")


@dataclass(frozen=True)
class Rule:
    regex: re.Pattern[str]
    exception: bool
    text: str


def _compile(pattern: str) -> re.Pattern[str]:
    out, i = "^", 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            if pattern[i + 1 : i + 2] == "*":
                i += 1
                if pattern[i + 1 : i + 2] == "/":  # "**/" is treated as "**"
                    i += 1
                out += ".*" if i + 1 == len(pattern) else "(.*/)?"
            else:
                out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "[" and "]" in pattern[i + 1 :]:  # a class, copied as is: Go and Python read it alike
            end = pattern.index("]", i + 1)
            out += pattern[i : end + 1]
            i = end
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        elif ch in _REGEX_SPECIALS:
            out += "\\" + ch
        else:
            out += ch
        i += 1
    return re.compile(out + "$")


def parse(text: str) -> list[Rule]:
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        if exception:
            line = line[1:].strip()
        pattern = posixpath.normpath(line)
        if len(pattern) > 1 and pattern.startswith("/"):
            pattern = pattern[1:]
        rules.append(Rule(_compile(pattern), exception, raw))
    return rules


def excluded(path: str, rules: list[Rule]) -> bool:
    """`MatchesOrParentMatches`: the last rule matching the path or a parent directory decides."""
    parents = path.split("/")[:-1]
    matched = False
    for rule in rules:
        if rule.exception != matched:  # only a rule that could change the verdict is evaluated
            continue
        hit = bool(rule.regex.match(path)) or any(
            rule.regex.match("/".join(parents[: i + 1])) for i in range(len(parents))
        )
        if hit:
            matched = not rule.exception
    return matched


def build_context(root: Path, dockerignore: str) -> set[str]:
    """Every file (relative, with `/`) that `docker build root` would send."""
    rules = parse(dockerignore)
    sent = set()
    for directory, _, files in os.walk(root):
        for name in files:
            relative = Path(directory, name).relative_to(root).as_posix()
            if not excluded(relative, rules):
                sent.add(relative)
    return sent
