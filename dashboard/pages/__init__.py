"""Dashboard pages, one module each, with their callbacks beside their layout."""
