"""The HTTP API (FastAPI). Only this package turns domain errors into HTTP errors."""
