"""The jobs (send, resolve, opt out): async, headless, driven by the CLI and the UI alike."""
