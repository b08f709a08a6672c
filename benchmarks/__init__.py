"""notify-tui's benchmark: ``python benchmarks/run.py`` (see its docstring)."""
