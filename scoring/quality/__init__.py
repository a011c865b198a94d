"""Data quality: Great Expectations suites (``suites``) in a file context (``context``), run on
each stage's batch (``targets``, ``validation``), recorded in ``dq`` (``record``), and the
pipeline's gates (``gates``)."""
