"""WhatsApp provider clients (plain Python, no Odoo import).

``get_provider(kind, config)`` returns an instance of the implementation for
``kind`` ('sandbox', 'spoki', 'meta'); see :mod:`.base` for the interface.
"""

from .base import (  # noqa: F401
    AccountInfo,
    InboundMessage,
    PermanentError,
    ProviderError,
    SendResult,
    StatusEvent,
    TemplateSpec,
    TemplateStatus,
    TemporaryError,
    WhatsAppProvider,
)
from .meta import MetaCloudProvider
from .sandbox import SandboxProvider
from .spoki import SpokiProvider

_REGISTRY = {"sandbox": SandboxProvider, "meta": MetaCloudProvider, "spoki": SpokiProvider}


def register(kind, cls):
    _REGISTRY[kind] = cls


def get_provider(kind, config=None, clock=None):
    try:
        cls = _REGISTRY[kind]
    except KeyError:
        raise ValueError(f"Unknown WhatsApp provider {kind!r}") from None
    return cls(config or {}, clock=clock)
