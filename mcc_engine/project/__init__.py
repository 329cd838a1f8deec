"""The annotation project: one SQLite file plus a folder of masks beside the data."""
