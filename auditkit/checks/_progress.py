"""Progress bars for long work, silent when nobody is watching.

A bar shows only when ``enabled`` is true, which by default means standard
error is a terminal; ``audit(..., progress=False)`` and ``auditkit audit
--quiet`` silence it.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["Progress"]


class _NullBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str) -> None:
        pass


class Progress:
    """Factory of progress bars (tqdm) that can be switched off.

    Parameters
    ----------
    enabled : bool or None, default=None
        None means: show bars when standard error is a terminal.
    """

    def __init__(self, enabled: bool | None = None) -> None:
        if enabled is None:
            enabled = bool(getattr(sys.stderr, "isatty", lambda: False)())
        self.enabled = bool(enabled)

    @contextlib.contextmanager
    def bar(self, *, total: int, description: str) -> Iterator[Any]:
        """A bar over ``total`` steps; a no-op object when disabled."""
        if not self.enabled:
            yield _NullBar()
            return
        from tqdm.auto import tqdm

        with tqdm(total=total, desc=description, leave=False, dynamic_ncols=True) as bar:
            yield bar
