"""Screening for injection patterns: an extra layer behind strict schemas and bound
parameters, never the primary defence. Patterns need the syntax of an attack, not a
word: "select the best answer", "<b>", "Java; Python is easier" or "time.sleep(2)" pass.

The patterns run on RE2, which matches in time linear in the input whatever the
pattern: Python's backtracking `re` took 97 s on one 60 KB body of a quote and
whitespace. RE2 has no lookaround or backreferences, so a pattern that needs them
fails to compile here, at import, rather than slowing down in production.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from typing import Any

import re2

# RE2's \s is ASCII only; Python's also takes these, and so must ours, or a no-break
# space between a quote and OR would slip past. (NFKC, below, folds full-width letters.)
_OTHER_SPACES = r"\pZ\x{85}\x{b}\x{1c}-\x{1f}"


def _compile(flags: str, pattern: str) -> re2._Regexp:
    r"""RE2 with `\s` widened to every character Python calls a space, in or out of a class."""
    widened, in_class, index = [], False, 0
    while index < len(pattern):
        pair = pattern[index : index + 2]
        if pair == r"\s":
            widened.append(rf"\s{_OTHER_SPACES}" if in_class else rf"[\s{_OTHER_SPACES}]")
            index += 2
            continue
        if pattern[index] == "\\":
            widened.append(pair)
            index += 2
            continue
        in_class = (in_class or pattern[index] == "[") and pattern[index] != "]"
        widened.append(pattern[index])
        index += 1
    return re2.compile(f"(?{flags})" + "".join(widened))


# Commands an injected shell line runs; prose rarely puts one right after ; && || | $( `.
_COMMANDS = r"(rm|curl|wget|nc|ncat|bash|sh|zsh|python\d?|perl|chmod|chown|cat|id|whoami|uname|ls|ps|kill|nslookup)"

PATTERNS = {
    "sql_injection": _compile(
        "im",
        # a quote closing a literal, then OR/AND and a tautology of literals:
        # ' OR '1'='1, " or ""=", ' or 1=1 (not prose like "'Up' and others like it")
        r"['\"]\s*\)?\s*(or|and)\s+(['\"][^'\"]*['\"]\s*(=|<>|!=|like)\s*['\"]|\d+\s*(=|<>|!=)\s*\d+)"
        r"|\bunion\s+(all\s+)?select\b"  # UNION SELECT
        r"|;\s*(drop|truncate|alter)\s+(table|database)\b"
        r"|;\s*(delete\s+from|insert\s+into|update\s+\w+\s+set)\b"
        r"|['\"]\)?;?\s*(--|#|/\*)[\s-]*$"  # a quote, then a comment cutting off the rest: admin'--
        r"|['\"]\s*(and|or)\s+\w*sleep\s*\(|\b(pg_sleep|benchmark|sleep)\s*\(\s*\d+\s*\)\s*(--|#|$)"
        r"|\bwaitfor\s+delay\s+'",
    ),
    "xss": _compile(
        "i",
        r"<\s*(script|iframe|object|embed|svg|math)\b[^>]*>"
        r"|<[a-z][^>]*[\s/]on[a-z]+\s*=[^>]*>"  # <img src=x onerror=...>, <svg/onload=...>
        r"|\bjavascript:[^\s]"  # a javascript: URL, not "JavaScript: how..."
        r"|\bdocument\.(cookie|location|write)\b",
    ),
    "command_injection": _compile(
        "im",
        rf"(^|[;&|]\s*|&&\s*|\|\|\s*){_COMMANDS}\s+(-\w+|/[\w./-]*|~|\$\w+|https?://)"  # ; rm -rf /
        rf"|[;&|]\s*{_COMMANDS}\s*$"  # ; whoami, && id
        rf"|\$\(\s*{_COMMANDS}\b[^)]*\)|`\s*{_COMMANDS}\b[^`]*`"  # $(...) and `...`
        r"|\|\s*(ba|z)?sh\b"  # | sh
        r"|/etc/(passwd|shadow)\b",
    ),
}


def strings_in(value: Any) -> Iterator[str]:
    """Every key and string value of a parsed JSON document."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


# An SQL comment between tokens works as a space (`'/**/or/**/1=1`). Python's `re` with a
# negated class and no nested quantifier: linear.
_SQL_COMMENT = re.compile(r"/\*[^*]*\*/")


def normalized(text: str) -> str:
    """NFKC, SQL comments as spaces, and lone surrogates (valid in JSON's `\ud800`, not
    in the UTF-8 that RE2 reads) as U+FFFD."""
    folded = _SQL_COMMENT.sub(" ", unicodedata.normalize("NFKC", text))
    return folded if folded.isascii() else folded.encode("utf-8", "replace").decode("utf-8")


def screen(texts: Iterable[str]) -> str | None:
    """The first kind of injection found, or None. Linear in the total length: the texts
    are screened as one, a line each, so thousands of tiny query parameters cost no more
    than one long one (`^` and `$` still anchor at each text's ends)."""
    folded = normalized("\n".join(texts))
    for reason, pattern in PATTERNS.items():
        if pattern.search(folded):
            return reason
    return None
