"""The EDA notebook runs from top to bottom against the session's real warehouse (nbclient on an
ipykernel kernel of this environment), so it cannot rot. The executed copy is kept under
build/reports/ for a human to look at; the committed notebook stays without outputs."""

from __future__ import annotations

from collections.abc import Iterator

import nbformat
import pytest
from nbclient import NotebookClient

from scoring import settings

pytestmark = pytest.mark.integration

NOTEBOOK = settings.PROJECT_ROOT / "notebooks" / "eda.ipynb"
EXECUTED = settings.PROJECT_ROOT / "build" / "reports" / "eda.executed.ipynb"


@pytest.fixture
def url(scored_warehouse: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # The kernel inherits the environment: the notebook's warehouse.connect() finds this URL.
    monkeypatch.setenv("EXOHUNTER_DATABASE_URL", scored_warehouse)
    yield scored_warehouse


def test_the_eda_notebook_runs_clean(url: str) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on any error
    EXECUTED.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, EXECUTED)

    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(figures) >= 5, "every section draws its plots"
    text = "".join(o.get("text", "") for o in outputs)
    assert "9,564 KOIs" in text
    assert "refused: forbidden columns in the feature list: koi_score" in text
