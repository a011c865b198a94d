"""The one base of every error a user can cause.

Each refusal says in one line what is wrong and what to do; the CLI and the web layer catch
:class:`ExoHunterError` once and print that line (or answer it as a 4xx/503), never a traceback.
A traceback means a bug.
"""


class ExoHunterError(Exception):
    """A refusal a user can act on: bad input, a missing prerequisite, a dead database."""
