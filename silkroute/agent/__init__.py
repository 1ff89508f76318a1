"""The site agent: keeps one site's engine in step with the control plane."""
