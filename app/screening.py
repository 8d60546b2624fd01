"""Screening for injection patterns: an extra layer behind strict schemas and bound
parameters, never the primary defence. Patterns need the syntax of an attack, not a
word: a prompt that says "select the best answer" or writes "<b>" passes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

PATTERNS: dict[str, re.Pattern[str]] = {
    "sql_injection": re.compile(
        r"('|\")\s*(or|and)\s+('|\")?\w+('|\")?\s*(=|like)\s*('|\")?\w+"  # ' OR '1'='1
        r"|\bunion\s+(all\s+)?select\b.+\bfrom\b"  # UNION SELECT ... FROM
        r"|;\s*(drop|truncate|alter)\s+table\b"  # ; DROP TABLE
        r"|;\s*(delete\s+from|insert\s+into|update\s+\w+\s+set)\b"
        r"|('|\")\s*;?\s*--\s*$"  # '-- at the end
        r"|\b(sleep|pg_sleep|benchmark)\s*\(\s*\d+|\bwaitfor\s+delay\s+'",
        re.IGNORECASE | re.MULTILINE,
    ),
    "xss": re.compile(
        r"<\s*(script|iframe|object|embed)\b"
        r"|<[^>]+\son[a-z]+\s*=\s*['\"]?[^'\">]*"  # <img onerror=...>
        r"|\bjavascript:[^\s]"  # a javascript: URL, not "JavaScript: how..."
        r"|\bdocument\.(cookie|location)\b",
        re.IGNORECASE,
    ),
    "command_injection": re.compile(
        r"(;|&&|\|\|?)\s*(rm|curl|wget|nc|ncat|bash|sh|zsh|python\d?|perl|chmod|cat)\s+[-/~$\w]"
        r"|\$\(\s*(rm|curl|wget|nc|bash|sh|cat|id|whoami|uname)\b[^)]*\)"
        r"|`\s*(rm|curl|wget|nc|bash|sh|cat|id|whoami|uname)\b[^`]*`"
        r"|/etc/(passwd|shadow)\b",
        re.IGNORECASE,
    ),
}


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def screen(texts: Iterator[str] | list[str]) -> str | None:
    """The first kind of injection found, or None."""
    for text in texts:
        for reason, pattern in PATTERNS.items():
            if pattern.search(text):
                return reason
    return None
