"""Plain-words checks of an account's setup (issue 14, "Test connection")."""

import pytest

from spoki_whatsapp.tools.account_check import connection_problem, webhook_problem


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "missing"),
        ("http://localhost:8069/spoki/webhook/1", "local"),
        ("http://127.0.0.1:8069/spoki/webhook/1", "local"),
        ("https://192.168.1.10/spoki/webhook/1", "local"),
        ("http://odoo:8069/spoki/webhook/1", "local"),
        ("http://crm.example.com/spoki/webhook/1", "not_https"),
        ("https://crm.example.com/spoki/webhook/1", None),
        ("https://93.184.216.34/spoki/webhook/1", None),
    ],
)
def test_webhook_problem(url, problem):
    assert webhook_problem(url) == problem


def test_connection_problem():
    assert connection_problem("auth") == "credentials"
    assert connection_problem("not_found") == "number"
    assert connection_problem("timeout") == connection_problem("connection") == "unreachable"
    assert connection_problem("config") == "configuration"
    assert connection_problem("http_4xx") == "refused"
    assert connection_problem("whatever") == connection_problem(None) == "other"
