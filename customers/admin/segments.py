"""Back office: segments."""
