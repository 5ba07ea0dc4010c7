"""Language-model backends (adapters behind the ChatModel port)."""
