"""Wording that reads right in every language: messages whose generic Odoo
form ("%s created" with the model's name) can't agree in gender or order
in Italian get a source string of their own."""

from . import creation_messages
