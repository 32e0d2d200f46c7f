"""Course operations: what an instructor runs across a whole class (similarity, gradebook export)."""
