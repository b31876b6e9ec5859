"""spillframe.api."""
