"""The command line: parses, calls the runtime, renders."""
