"""spillframe.io."""
