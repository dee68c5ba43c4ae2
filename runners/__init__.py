"""The application layer of attention-nas: the `nas` command line and Ray orchestration."""
