"""Landing-file parsing: raw bytes in, typed rows and quarantined lines out."""
