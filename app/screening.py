"""Screening for injection patterns: an extra layer behind strict schemas and bound
parameters, never the primary defence. Patterns need the syntax of an attack, not a
word: "select the best answer", "<b>", "Java; Python is easier" or "time.sleep(2)" pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

# Commands an injected shell line runs; prose rarely puts one right after ; && || | $( `.
_COMMANDS = r"(rm|curl|wget|nc|ncat|bash|sh|zsh|python\d?|perl|chmod|chown|cat|id|whoami|uname|ls|ps|kill|nslookup)"

PATTERNS: dict[str, re.Pattern[str]] = {
    "sql_injection": re.compile(
        # a quote closing a literal, then OR/AND and a tautology of literals:
        # ' OR '1'='1, " or ""=", ' or 1=1 (not prose like "'Up' and others like it")
        r"['\"]\s*\)?\s*(or|and)\s+(['\"][^'\"]*['\"]\s*(=|<>|!=|like)\s*['\"]|\d+\s*(=|<>|!=)\s*\d+)"
        r"|\bunion\s+(all\s+)?select\b"  # UNION SELECT
        r"|;\s*(drop|truncate|alter)\s+(table|database)\b"
        r"|;\s*(delete\s+from|insert\s+into|update\s+\w+\s+set)\b"
        r"|['\"]\)?;?\s*(--|#|/\*)[\s-]*$"  # a quote, then a comment cutting off the rest: admin'--
        r"|['\"]\s*(and|or)\s+\w*sleep\s*\(|\b(pg_sleep|benchmark|sleep)\s*\(\s*\d+\s*\)\s*(--|#|$)"
        r"|\bwaitfor\s+delay\s+'",
        re.IGNORECASE | re.MULTILINE,
    ),
    "xss": re.compile(
        r"<\s*(script|iframe|object|embed|svg|math)\b[^>]*>"
        r"|<[a-z][^>]*[\s/]on[a-z]+\s*=[^>]*>"  # <img src=x onerror=...>, <svg/onload=...>
        r"|\bjavascript:[^\s]"  # a javascript: URL, not "JavaScript: how..."
        r"|\bdocument\.(cookie|location|write)\b",
        re.IGNORECASE,
    ),
    "command_injection": re.compile(
        rf"(^|[;&|]\s*|&&\s*|\|\|\s*){_COMMANDS}\s+(-\w+|/[\w./-]*|~|\$\w+|https?://)"  # ; rm -rf /
        rf"|[;&|]\s*{_COMMANDS}\s*$"  # ; whoami, && id
        rf"|\$\(\s*{_COMMANDS}\b[^)]*\)|`\s*{_COMMANDS}\b[^`]*`"  # $(...) and `...`
        r"|\|\s*(ba|z)?sh\b"  # | sh
        r"|/etc/(passwd|shadow)\b",
        re.IGNORECASE | re.MULTILINE,
    ),
}


def strings_in(value: Any, depth: int = 0) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings_in(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item, depth + 1)


def screen(texts: Iterable[str]) -> str | None:
    """The first kind of injection found, or None."""
    for text in texts:
        for reason, pattern in PATTERNS.items():
            if pattern.search(text):
                return reason
    return None
