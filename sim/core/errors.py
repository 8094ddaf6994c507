"""The one error type for bad user input: :class:`UserError`.

Every mistake a user can make in what they give the program (a config value, an override, a
data file, a posterior, a scheduler address) is a ``UserError`` with a **one-line** message
naming the field, the value and what is allowed.  The entry points print it as
``error: <message>`` and exit 2 without a traceback (``TIERSIM_DEBUG=1`` shows the traceback);
the Python API raises it.  Subclasses say where the mistake was found:
:class:`sim.core.schema.ConfigError` (configuration) and
:class:`sim.config.history.HistoryError` (data files of published counts).

A ``UserError`` raised inside a worker process (joblib/loky, Dask) pickles as its class and its
one message, so it is re-raised in the parent as itself.

:class:`InputWarning` is for input that runs but is partly ignored (a lever window clipped to
the run); the entry points print it as one ``warning: <message>`` line.
"""

from __future__ import annotations


def one_line(message: object) -> str:
    """``message`` as one line: inner line breaks (a file name, a quoted value, a cause's text)
    become spaces."""
    return " ".join(str(message).split("\n")).strip()


class UserError(ValueError):
    """Bad user input (one-line message: the field, the value and what is allowed).

    A ``ValueError`` so that callers catching the wrong-value family keep working."""

    def __init__(self, message: object = "") -> None:
        super().__init__(one_line(message))

    def __reduce__(self) -> tuple[type, tuple[str]]:
        # rebuilt from its class and its one message in whichever process unpickles it
        return (type(self), (str(self),))


class InputWarning(UserWarning):
    """Input that runs but is partly clipped or ignored (one-line message)."""
