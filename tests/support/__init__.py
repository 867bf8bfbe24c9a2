"""Helpers shared by the tests: paths to the shared data and database set-up."""
