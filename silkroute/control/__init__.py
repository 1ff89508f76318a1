"""The control plane: the live scheduling loop, accounting and the services the API calls."""
