"""spillframe.runners."""
