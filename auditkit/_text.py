r"""Text that is safe to show: control characters made visible.

A name with NUL, ESC or BEL in it would otherwise reach a report or a terminal
raw (an ESC starts a terminal escape sequence). Each C0 control character other
than tab and line breaks, DEL, and each C1 control character is replaced by a
visible stand-in: the Unicode "control picture" (U+2400 block) for C0 and DEL,
and ``\x..`` for C1.
"""

from __future__ import annotations

__all__ = ["visible"]

_KEEP = {"\t", "\n", "\r"}
_TABLE = {code: chr(0x2400 + code) for code in range(0x20) if chr(code) not in _KEEP}
_TABLE[0x7F] = "\u2421"
_TABLE.update({code: f"\\x{code:02x}" for code in range(0x80, 0xA0)})


def visible(text: str) -> str:
    r"""``text`` with every control character replaced by a visible stand-in.

    Parameters
    ----------
    text : str

    Returns
    -------
    str
        Same type as given (a :class:`markupsafe.Markup` stays one), so that
        already-escaped markup stays markup.

    Examples
    --------
    >>> visible("a\x00b\x1b[31mc\x07")
    'a␀b␛[31mc␇'
    """
    translated = text.translate(_TABLE)
    return translated if type(text) is str else type(text)(translated)
