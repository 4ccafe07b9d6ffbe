"""paperwire: self-hostable research-paper discovery."""

from paperwire.config import Settings
from paperwire.service import Service, open_service

__version__ = "0.1.0"
__all__ = ["Service", "Settings", "__version__", "open_service"]
