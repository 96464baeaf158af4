"""Services: every rule lives here, and each write function owns its transaction."""
