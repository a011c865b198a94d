"""How a stage reports progress without knowing who listens.

Stages take a ``say`` (one line of news) and, for long steps, a ``status`` (a context manager
shown while the step runs). The CLI and the pipeline pass rich's ``console.print`` and
``console.status``; tests and benchmarks pass nothing and the stage is quiet.
"""

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

Say = Callable[[str], None]
Status = Callable[[str], AbstractContextManager[object]]


def quiet(_: str) -> None:
    """A ``say`` that says nothing."""


NO_STATUS: Status = nullcontext
