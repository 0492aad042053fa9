"""`/kling-admin`: server settings and usage."""
