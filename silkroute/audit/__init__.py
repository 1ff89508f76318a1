"""Tamper-evident audit log: a hash chain of records, a Merkle tree over them (RFC 9162
hashing, inclusion and consistency proofs) and Ed25519-signed checkpoints of the tree.

`merkle` (tree hashing and proofs), `records` (the record and its chain hash), `store` (the
storage protocol, in memory and JSONL), `log` (append, checkpoint, verify, export)."""
