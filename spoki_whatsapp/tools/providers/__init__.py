"""WhatsApp provider clients (plain Python, no Odoo import).

``get_provider(kind, config)`` returns an instance of the implementation for
``kind`` ('sandbox', 'spoki', 'meta'); see :mod:`.base` for the interface.
Adding a provider: a module with a :class:`WhatsAppProvider` subclass and an
entry in ``_REGISTRY`` (its ``label`` appears in the account's selection, its
``config_fields`` name the account fields it reads).
"""

from .base import (  # noqa: F401
    AccountInfo,
    InboundMessage,
    MediaFile,
    PermanentError,
    ProviderError,
    SendResult,
    StatusEvent,
    TemplateSpec,
    TemplateStatus,
    TemporaryError,
    UnknownOutcomeError,
    WhatsAppProvider,
)
from .meta import MetaCloudProvider
from .sandbox import SandboxProvider
from .spoki import SpokiProvider

_REGISTRY = {"sandbox": SandboxProvider, "spoki": SpokiProvider, "meta": MetaCloudProvider}


def register(kind, cls):
    _REGISTRY[kind] = cls


def provider_class(kind):
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise ValueError(f"Unknown WhatsApp provider {kind!r}") from None


def provider_selection():
    """``[(kind, label)]`` of the registered providers, for the account's selection."""
    return [(kind, cls.label or kind) for kind, cls in _REGISTRY.items()]


def get_provider(kind, config=None, clock=None):
    return provider_class(kind)(config or {}, clock=clock)
