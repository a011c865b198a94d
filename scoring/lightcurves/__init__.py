"""Light curves: readers, the transit search, the anomaly score, the model, the store, the plots."""
