"""Making text from the tree safe for each output format.

Names of folders and files, system-description values and messages quoting file content are
submitter-controlled. Each format gets its own treatment so that such text can change nothing but
the field it stands in:

* :func:`scrub` (applied to the whole report document): lone surrogates (undecodable file names)
  become U+FFFD, so every encoder can write the text.
* :func:`plain`: control characters (ANSI escapes, carriage returns, NUL, C1 controls, bidirectional
  overrides) become ``?`` and line breaks a space: one line of inert text (terminal, JUnit
  attributes, CSV cells).
* :func:`xml_text`: only characters XML 1.0 allows (ElementTree escapes ``<``, ``&`` and quotes).
* :func:`md`: Markdown inline text: HTML-significant characters as entities, Markdown punctuation
  backslash-escaped (so ``|`` cannot split a table cell and backticks cannot open code), one line.
* :func:`csv_cell`: one line, and a leading ``=``, ``+``, ``-``, ``@`` made inert for spreadsheets
  (the csv module does the quoting).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

#: C0/C1 controls, and the bidirectional overrides and isolates that make a terminal or a browser show
#: text in another order than it is stored (so a quoted name could appear to say something else)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_BREAKS = re.compile(r"\r\n|[\r\n\u2028\u2029\x85]")
_XML_BAD = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_MD_PUNCT = re.compile(r"([\\`*_{}\[\]()#!|~.:])")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def scrub_text(text: str) -> str:
    """Replace lone surrogates (from undecodable bytes in file names) with U+FFFD."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        except UnicodeEncodeError:
            return text.encode("utf-8", "replace").decode("utf-8")


#: how ``repr`` writes a lone surrogate (it escapes every unprintable character); an escaped
#: backslash followed by such text also matches, which only costs the full scrub
_SURROGATE_REPR = re.compile(r"\\ud[89a-f]")


def may_hold_lone_surrogates(value: Any) -> bool:
    """Whether some string of a nested JSON-like value may hold a lone surrogate: one pass in C over
    its ``repr`` instead of a Python call per string (a report of 1,400 results holds 400,000)."""
    return _SURROGATE_REPR.search(repr(value)) is not None


#: a lone surrogate as a JSON escape, should a serializer write one
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def _traces_of_surrogates(text: str) -> bool:
    """What a serializer may leave for a lone surrogate it did not refuse: U+FFFD, or an escape
    (the substring tests first: a regex with two branches scans 13 MB several times slower)."""
    return "\ufffd" in text or ("\\u" in text and _ESCAPED_SURROGATE.search(text) is not None)


def model_may_hold_lone_surrogates(model: Any) -> bool:
    """:func:`may_hold_lone_surrogates` for a pydantic model, through its JSON (about 3x faster).

    pydantic's serializer refuses a lone surrogate in a value, but in a dict key it writes U+FFFD;
    the text is therefore also searched for U+FFFD (and for an escaped surrogate, should a later
    version write one), and only then does the full test run on the dumped model."""
    return parts_may_hold_lone_surrogates([(model, None)])


def parts_may_hold_lone_surrogates(parts: Iterable[tuple[Any, set[str] | None]]) -> bool:
    """:func:`model_may_hold_lone_surrogates` of several (model, fields left out) in turn, so that no
    JSON of their whole is ever held (that of a report of a whole repository is about 13 MB)."""
    for part, exclude in parts:
        try:
            text = part.model_dump_json(exclude=exclude)
        except ValueError:  # pydantic_core's serialization error: a value the encoder refused
            return True
        if _traces_of_surrogates(text) and may_hold_lone_surrogates(part.model_dump(exclude=exclude)):
            return True
    return False


def scrub(value: Any) -> Any:
    """:func:`scrub_text` applied to every string (and key) of a nested JSON-like value."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def plain(text: str | None, limit: int | None = None) -> str:
    """One line of inert text: breaks become spaces, other control characters ``?``."""
    if not text:
        return ""
    out = _CONTROL.sub("?", _BREAKS.sub(" ", scrub_text(text)))
    if limit is not None and len(out) > limit:
        out = out[: max(limit - 1, 0)] + "…"
    return out


def xml_text(text: str | None, one_line: bool = False) -> str:
    """Text XML 1.0 can carry: characters it forbids (NUL, ESC, other C0 controls) become ``?``."""
    if not text:
        return ""
    text = scrub_text(text)
    if one_line:
        text = _BREAKS.sub(" ", text)
    return _XML_BAD.sub("?", text)


def md(text: str | None, limit: int | None = None) -> str:
    """Markdown inline text that renders literally: no HTML, links, emphasis, code or table breaks."""
    if not text:
        return ""
    text = plain(text, limit)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_PUNCT.sub(r"\\\1", text)
    # escaped '.' and ':' keep bare URLs and www. names from becoming links; '@' from mentioning
    return text.replace("@", "&#64;")


def csv_cell(value: Any) -> str:
    """A CSV value: numbers as is; text as one line, a formula-looking start made inert with ``'``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return f"{value:.10g}" if isinstance(value, float) else str(value)
    text = plain(str(value))
    if text.startswith(_FORMULA_START) and text != "-":
        try:
            float(text)
        except ValueError:
            return "'" + text
    return text
