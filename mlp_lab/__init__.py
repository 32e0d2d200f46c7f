"""The MLP lab's student kit: what the released notebook imports (data, checks) and its static readers."""
