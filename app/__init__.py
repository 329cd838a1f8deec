"""MCC Annotate's desktop app (PySide6) over the engine and the project store."""
