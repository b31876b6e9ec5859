"""spillframe.physical."""
