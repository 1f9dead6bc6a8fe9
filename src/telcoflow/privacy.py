"""Privacy by default: identifiers masked and secrets redacted wherever the library writes text.

* :class:`MaskingPolicy` masks what looks like a subscriber identifier -- MSISDNs and IMSIs
  (runs of 8 to 15 digits, with an optional ``+``) and e-mail addresses -- in dead-letter
  messages and payloads, bus dead letters, explain traces and the worker's errors, keeping the
  last ``keep_last`` characters (``+447700900123`` -> ``+**********23``). Named fields (a
  customer's name) are masked by the component that knows them. The default policy masks;
  :data:`CLEAR` keeps values in clear and is what an operator opts in to.
* :func:`redact_url` drops the password of every URL the library prints (store, bus and cache
  errors, health endpoints, logs).

>>> DEFAULT_MASKING.mask("unknown subscriber '447700900123' (mail jo@example.com)")
"unknown subscriber '**********23' (mail ************om)"
>>> redact_url("redis://:s3cret@cache:6379/0")
'redis://:***@cache:6379/0'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

__all__ = ["CLEAR", "DEFAULT_MASKING", "MaskingPolicy", "redact_url"]

_IDENTIFIERS = re.compile(r"\+?(?<![\d.])\d{8,15}(?![\d.])|[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


@dataclass(frozen=True, slots=True)
class MaskingPolicy:
    """How identifiers are shown in text the library writes.

    ``enabled`` masks (the default); ``keep_last`` characters of each identifier stay
    visible, enough to tell two apart in a report; ``pattern`` says what an identifier looks
    like (MSISDN, IMSI, e-mail by default).
    """

    enabled: bool = True
    keep_last: int = 2
    pattern: re.Pattern[str] = field(default=_IDENTIFIERS)

    def mask(self, text: str) -> str:
        """``text`` with every identifier masked (unchanged when the policy is disabled)."""
        if not self.enabled or not text:
            return text
        return self.pattern.sub(self._hide, text)

    def _hide(self, found: re.Match[str]) -> str:
        value = found.group(0)
        keep = min(self.keep_last, len(value))
        start = 1 if value.startswith("+") else 0
        return value[:start] + "*" * (len(value) - keep - start) + value[len(value) - keep:]


#: Mask identifiers (what the library does unless told otherwise).
DEFAULT_MASKING = MaskingPolicy()
#: Keep identifiers in clear: only where the operator opts in.
CLEAR = MaskingPolicy(enabled=False)


def redact_url(url: str) -> str:
    """``url`` without its password (``user:***@host``); text that is no URL is returned as is.
    """
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if password:
        netloc = parts.netloc.replace(f":{password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))
    return url
