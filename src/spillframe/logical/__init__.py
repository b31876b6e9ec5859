"""spillframe.logical."""
