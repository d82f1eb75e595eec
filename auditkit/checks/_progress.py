"""Progress bars for long work, silent when nobody is watching.

A bar shows only when ``enabled`` is true, which by default means standard
error is a terminal; ``audit(..., progress=False)`` and ``auditkit audit
--quiet`` silence it. Bars nest: the audit's bar over its checks stays on the
first line, a check's bar over its stages (epsilons, re-initialised copies,
mitigation fits) on the next, and the batches of one stage below it; a nested
bar clears its line when it closes. Bars only watch the work: turning them on
or off never changes a result.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, Any, Protocol, TypeVar

__all__ = ["Bar", "Progress"]

T = TypeVar("T")

#: The audit's bar: its label, the share of the expected work done, elapsed and remaining
#: time, then which check of how many (the weights make the counts unsuitable as n/total).
OUTER_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]"


class Bar(Protocol):
    """What a check may do with a bar (a tqdm bar, or a no-op when progress is off)."""

    def update(self, n: int = 1) -> Any:
        """Advance by ``n`` steps."""
        ...

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        """Show ``s`` after the counts (which stage runs)."""
        ...

    def set_description_str(self, desc: str | None = None, refresh: bool = True) -> None:
        """Replace the label before the bar."""
        ...

    def close(self) -> None:
        """Clear the bar."""
        ...


class _NullBar:
    """The bar when progress is off: every call does nothing."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        pass

    def set_description_str(self, desc: str | None = None, refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass


class Progress:
    """Factory of progress bars (tqdm) that can be switched off.

    Parameters
    ----------
    enabled : bool or None, default=None
        None means: show bars when standard error is a terminal.
    file : file-like, optional
        Where bars are drawn; standard error by default.
    bar_factory : callable, optional
        Makes a bar from tqdm's keyword arguments (``total``, ``desc``,
        ``position``, ``leave``, ``unit``, ``file``, ...); tqdm by default. A
        test passes a recorder here.

    Examples
    --------
    >>> from auditkit.checks import Progress
    >>> progress = Progress(enabled=False)
    >>> with progress.bar(total=3, description="batches") as bar:
    ...     for _ in range(3):
    ...         bar.update(1)
    """

    def __init__(self, enabled: bool | None = None, *, file: IO[str] | None = None,
                 bar_factory: Callable[..., Bar] | None = None) -> None:
        if enabled is None:
            enabled = bool(getattr(sys.stderr, "isatty", lambda: False)())
        self.enabled = bool(enabled)
        self.file = file
        self.bar_factory = bar_factory
        self._depth = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def bar(self, *, total: int | None, description: str, unit: str = "it",
            bar_format: str | None = None) -> Iterator[Bar]:
        """A bar over ``total`` steps below the bars already open; a no-op when disabled.

        Parameters
        ----------
        total : int or None
            Steps to do; None when unknown (the bar then counts without an end).
        description : str
            Label before the bar.
        unit : str, default="it"
            What a step is ("sample", "fit", "check").
        bar_format : str, optional
            tqdm's ``bar_format``.

        Yields
        ------
        Bar
        """
        if not self.enabled:
            yield _NullBar()
            return
        with self._lock:
            position = self._depth
            self._depth += 1
        try:
            bar = self._make(total=total, desc=description, unit=unit, position=position,
                             bar_format=bar_format)
            try:
                yield bar
            finally:
                bar.close()
        finally:
            with self._lock:
                self._depth -= 1

    def _make(self, **options: Any) -> Bar:
        options.update(leave=False, dynamic_ncols=True, file=self.file or sys.stderr)
        if options["bar_format"] is None:
            del options["bar_format"]
        if self.bar_factory is not None:
            return self.bar_factory(**options)
        from tqdm.auto import tqdm

        return tqdm(**options)

    def track(self, items: Iterable[T], *, description: str,
              labels: Sequence[str] | None = None,
              weights: Sequence[float] | None = None) -> Iterator[T]:
        """Yield ``items`` under one bar that shows which item runs and the time left.

        Parameters
        ----------
        items : iterable
            The work, one item at a time (the audit's checks).
        description : str
            What the work is, shown with the current item's label.
        labels : sequence of str, optional
            A label per item (the check's name).
        weights : sequence of float, optional
            Expected cost of each item, relative to the others: the bar and its
            remaining time advance by an item's weight when it is done, so a
            long check moves the bar more than a short one.

        Yields
        ------
        object
            Each item of ``items``, in order.
        """
        items = list(items)
        labels = list(labels) if labels is not None else [""] * len(items)
        weights = [float(w) for w in weights] if weights is not None else [1.0] * len(items)
        if not len(labels) == len(weights) == len(items):
            raise ValueError(f"track() needs as many labels and weights as items ({len(items)});"
                             f" got {len(labels)} labels and {len(weights)} weights instead.")
        with self.bar(total=sum(weights), description=description,
                      bar_format=OUTER_FORMAT) as bar:
            for i, (item, label, weight) in enumerate(zip(items, labels, weights, strict=True)):
                bar.set_description_str(f"{description}: {label}" if label else description)
                bar.set_postfix_str(f"{i + 1}/{len(items)}")
                yield item
                bar.update(weight)
