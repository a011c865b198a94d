"""The light-curve CNN: AstroNet-style vetting of a folded signal (Yu et al. 2019 views)."""
