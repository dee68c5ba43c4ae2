"""The verbs of `nas`: each module registers its commands' arguments (``add_commands``), prints,
and calls `runners.engine` for the work."""
