"""Model plumbing shared by every model: features, registry, grouped CV, metrics."""
