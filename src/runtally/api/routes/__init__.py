"""Route modules of the read API."""
