"""meetingd: the daemon (CLI, config, storage, HTTP, wiring)."""

__version__ = "0.1.0"
