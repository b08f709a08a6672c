"""Pure values and rules: no I/O of any kind."""
