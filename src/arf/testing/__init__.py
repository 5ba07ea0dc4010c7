"""Fakes and scripted reasoners for tests. Never imported by production code."""
