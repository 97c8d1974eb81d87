"""Reactions and quoted replies through the providers (issue 12): the Cloud
API webhook's ``type: reaction`` and ``context`` parsed (Meta and the
sandbox), reactions and replies sent to the fake Meta server over real HTTP,
Spoki's lack of both."""

import pytest

from spoki_whatsapp.tests.fake_provider import (
    meta_button_message,
    meta_contact,
    meta_messages_change,
    meta_reaction_message,
    meta_text_message,
    meta_webhook,
    spoki_media_event,
)
from spoki_whatsapp.tools.providers import PermanentError, get_provider
from spoki_whatsapp.tools.providers.meta import MetaCloudProvider
from spoki_whatsapp.tools.providers.sandbox import SandboxProvider, incoming_payload
from spoki_whatsapp.tools.providers.spoki import SpokiProvider

T = 1718000000
WA = "393331234567"
TO = "+" + WA


def _meta_payload(*messages):
    return meta_webhook([meta_messages_change(contacts=[meta_contact(WA, "Ada")], messages=list(messages))])


def test_capabilities():
    assert MetaCloudProvider.supports_reactions and MetaCloudProvider.supports_replies
    assert SandboxProvider.supports_reactions and SandboxProvider.supports_replies
    assert not SpokiProvider.supports_reactions and not SpokiProvider.supports_replies


def test_meta_parses_reactions_and_replies(meta):
    payload = _meta_payload(
        meta_reaction_message("wamid.R1", WA, "wamid.OUT1", "👍", T),
        meta_reaction_message("wamid.R2", WA, "wamid.OUT1", "", T + 1),  # removed: no emoji
        meta_text_message("wamid.Q1", WA, "Yes, that one", T + 2, context_id="wamid.OUT2"),
        meta_button_message("wamid.B1", WA, "Interested", T + 3, context_id="wamid.TPL"),
        meta_text_message("wamid.P1", WA, "Plain", T + 4),
        {"from": WA, "id": "wamid.R3", "timestamp": str(T), "type": "reaction", "reaction": {"emoji": "😀"}},
    )
    _statuses, inbound, _templates = meta.parse_webhook(payload)
    by_id = {item.message_id: item for item in inbound}
    assert "wamid.R3" not in by_id, "a reaction naming no message is dropped"
    added, removed = by_id["wamid.R1"], by_id["wamid.R2"]
    assert (added.reaction_to, added.text, added.media_kind) == ("wamid.OUT1", "👍", "")
    assert (removed.reaction_to, removed.text) == ("wamid.OUT1", "")
    assert (by_id["wamid.Q1"].reply_to, by_id["wamid.Q1"].reaction_to, by_id["wamid.Q1"].text) == (
        "wamid.OUT2",
        "",
        "Yes, that one",
    )
    assert by_id["wamid.B1"].reply_to == "wamid.TPL", "a button answer quotes its template"
    assert (by_id["wamid.P1"].reply_to, by_id["wamid.P1"].reaction_to) == ("", "")


def test_forwarded_context_is_not_a_reply(meta):
    message = meta_text_message("wamid.F1", WA, "fwd", T)
    message["context"] = {"forwarded": True}
    (item,) = meta.parse_webhook(_meta_payload(message))[1]
    assert item.reply_to == ""


def test_meta_sends_reaction_and_removal(fake, meta):
    sent = meta.send_reaction("+" + WA, "wamid.IN9", "❤️")
    payload = fake.messages[sent.message_id]["payload"]
    assert (payload["type"], payload["to"], payload["reaction"]) == (
        "reaction",
        WA,
        {"message_id": "wamid.IN9", "emoji": "❤️"},
    )
    removed = meta.send_reaction("+" + WA, "wamid.IN9", "")
    assert fake.messages[removed.message_id]["payload"]["reaction"] == {"message_id": "wamid.IN9", "emoji": ""}
    with pytest.raises(PermanentError):
        meta.send_reaction("+" + WA, "", "👍")


def test_meta_reply_carries_context(fake, meta):
    reply = meta.send_text("+" + WA, "Sure", "key-r1", reply_to="wamid.IN7")
    payload = fake.messages[reply.message_id]["payload"]
    assert payload["context"] == {"message_id": "wamid.IN7"}
    assert payload["text"]["body"] == "Sure" and payload["biz_opaque_callback_data"] == "key-r1"
    plain = meta.send_text("+" + WA, "No quote", "key-r2")
    assert "context" not in fake.messages[plain.message_id]["payload"]
    media = meta.send_media("+" + WA, "document", b"%PDF-1.4", "application/pdf", "a.pdf", "", "k3", reply_to="wamid.X")
    assert fake.messages[media.message_id]["payload"]["context"] == {"message_id": "wamid.X"}


def test_fake_meta_refuses_malformed_reaction(fake, meta):
    with pytest.raises(PermanentError):
        meta._send({"messaging_product": "whatsapp", "to": WA, "type": "reaction", "reaction": {"emoji": "👍"}}, "")


def test_sandbox_reactions_and_replies():
    sandbox = get_provider("sandbox", {"app_secret": "s"})
    assert sandbox.send_reaction("+393331234567", "wamid.IN1", "👍").message_id.startswith("sbx.")
    assert sandbox.send_text("+393331234567", "Hi", "k", reply_to="wamid.IN1").message_id.startswith("sbx.")
    payload = incoming_payload(TO, "reaction", "🎉", message_id="wamid.SR", timestamp=T, reaction_to="wamid.O")
    (item,) = sandbox.parse_webhook(payload)[1]
    assert (item.reaction_to, item.text) == ("wamid.O", "🎉")
    removed = incoming_payload(TO, "reaction", "", message_id="wamid.SR2", timestamp=T, reaction_to="wamid.O")
    assert "emoji" not in removed["entry"][0]["changes"][0]["value"]["messages"][0]["reaction"]
    (item,) = sandbox.parse_webhook(removed)[1]
    assert (item.reaction_to, item.text) == ("wamid.O", "")
    quoted = incoming_payload(TO, "text", "this", message_id="wamid.SQ", timestamp=T, reply_to="wamid.O")
    (item,) = sandbox.parse_webhook(quoted)[1]
    assert (item.reply_to, item.reaction_to) == ("wamid.O", "")


def test_spoki_has_no_reactions(spoki):
    with pytest.raises(PermanentError) as info:
        spoki.send_reaction("+393331234567", "x", "👍")
    assert info.value.code == "reactions_unsupported"
    # an event Spoki might send for a reaction is an unknown type: a placeholder, never a reaction
    _s, (item,), _t = spoki.parse_webhook(spoki_media_event("sp.R1", "+393331234567", "Reaction", ""))
    assert (item.media_kind, item.reaction_to) == ("unsupported", "")
