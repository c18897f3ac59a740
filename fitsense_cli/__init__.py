"""The ``fitsense`` command: the one entry point for everything a user does.

``main`` assembles the command groups (one module each); ``processes`` starts and stops
the child processes any command runs.
"""
