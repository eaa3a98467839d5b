"""gridlab: dm_env grid worlds, Acme-style actors and PyTorch agents."""
