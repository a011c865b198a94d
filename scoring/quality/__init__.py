"""Data quality: Great Expectations suites, results in ``dq`` and the pipeline's gates."""
