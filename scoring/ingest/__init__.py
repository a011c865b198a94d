"""NASA Exoplanet Archive exports into ``raw``, run by ``loader``: the archive's format
(``archive``), a file's bytes and layout (``layout``), its columns against the table's
(``columns``), the fast and careful load paths (``fast_path``, ``careful_path``) and the batch
bookkeeping (``batches``)."""
