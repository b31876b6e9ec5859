"""One rule per module; each is a pure function ``plan -> plan``."""
