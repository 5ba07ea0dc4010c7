"""The append-only, hash-chained audit ledger: entry format, hashing and verification."""
