"""Host side of the sandboxes: probing what this machine offers, and running candidates."""
