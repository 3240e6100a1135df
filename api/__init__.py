"""API: the FastAPI application (OpenAPI at /docs) and the small dashboard it serves."""
