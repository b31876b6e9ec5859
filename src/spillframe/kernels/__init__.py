"""spillframe.kernels."""
