"""The website and JSON API: ``create_app(settings)`` returns the FastAPI application."""

from paperwire.web.app import create_app

__all__ = ["create_app"]
