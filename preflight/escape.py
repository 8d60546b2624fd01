"""Names and messages from the checked program, made safe to print.

A resource name is whatever the program chose, and Pulumi accepts nearly anything: a
newline in one could forge a `== stack test: OK` line in the text report, a `|` could
split a Markdown table cell, a backtick could end a code span. Each writer escapes such
text for its own format; control and other invisible characters are shown, never
interpreted (`\\n`, `\\x1b`, `\\u202e`).
"""

from __future__ import annotations

import re

_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Characters GitHub's Markdown reads as syntax inside a line: emphasis, code, links,
# HTML, entities, table cells, strikethrough, math, mentions and issue references. (The
# writers never start a line or a list item with such text, where more would count.)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|&~$@#])")


def _visible_char(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def visible(text: object) -> str:
    """One line of text: every character that is not printable (newlines, tabs, escape
    sequences, bidirectional overrides, zero-width characters) spelled out."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _visible_char(char) for char in text)


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, saying so when it had more (before any escaping, so an
    escape sequence is never cut in half)."""
    if len(text) <= limit:
        return text
    return f"{text[: max(limit - 30, 0)]}… ({len(text) - max(limit - 30, 0):,} more characters)"


def markdown(text: object, limit: int | None = None) -> str:
    """Text for a Markdown paragraph or table cell: literal, on one line, no `|` that
    ends a cell."""
    raw = str(text)
    if limit is not None:
        raw = shorten(raw, limit)
    # Escapes first shown (a backslash doubled, so the reader sees `\n`), then every
    # character Markdown could read as syntax escaped with a backslash.
    return _MARKDOWN_SPECIAL.sub(r"\\\1", visible(raw))


def markdown_code(text: object, limit: int | None = None) -> str:
    """Text as an inline code span that holds whatever backticks it contains and keeps a
    table intact (GitHub reads `\\|` as `|` inside a code span in a table)."""
    raw = str(text)
    if limit is not None:
        raw = shorten(raw, limit)
    body = visible(raw).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * (longest + 1)
    if body.startswith("`") or body.endswith("`") or not body.strip():
        body = f" {body} "
    return f"{fence}{body}{fence}"


def markdown_block(text: str) -> str:
    """Lines of text as a fenced code block no line of it can close."""
    lines = [visible(line) for line in str(text).splitlines()] or [""]
    longest = max((len(run) for line in lines for run in re.findall(r"`{3,}|~{3,}", line)), default=2)
    fence = "`" * (longest + 1)
    return "\n".join([fence, *lines, fence])


def dot(text: object) -> str:
    """One line of a Graphviz label: shown as it is (backslashes doubled, so dot reads
    no `\\N` or `\\l` escape in a name)."""
    return visible(text).replace("\\", "\\\\")
