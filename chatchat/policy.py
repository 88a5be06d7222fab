"""Which knowledge bases a person sees: their own, never the internal ones.

A knowledge base made for a purpose of the app (a file chat's attachments, `chatchat ask --files`, a Space
visitor's uploads) records who owns it in its `owner` field, set by the store when it is created. Those are
internal: no list, message, export or API listing shows them. `visible` is the one rule every listing uses.
"""

from __future__ import annotations

CONVERSATION = "conversation:"  # + conversation id: the files attached to one file chat
ASK = "ask"  # the temporary knowledge base of one `chatchat ask --files`
VISITOR = "visitor:"  # + session digest: one Space visitor's uploads

# Knowledge bases made before `owner` existed were told apart by their name alone.
_LEGACY_PREFIXES = {"_conv-": CONVERSATION, "_ask-": ASK, "_visitor-": VISITOR}


def visible(owner: str, viewer: str = "") -> bool:
    """A knowledge base with this `owner` ('' for a person's own) is listed to `viewer`: everyone sees
    the person's knowledge bases, and an internal one is seen only by the viewer that owns it."""
    return not owner or owner == viewer


def legacy_owner(name: str) -> str:
    """The owner of a knowledge base created before the field existed, recognised by its name."""
    for prefix, owner in _LEGACY_PREFIXES.items():
        if name.startswith(prefix):
            return owner + name[len(prefix):] if owner.endswith(":") else owner
    return ""


def conversation_owner(conversation_id: str) -> str:
    return CONVERSATION + conversation_id


def owned_conversation(owner: str) -> str | None:
    """The conversation whose files a knowledge base holds (None: not a file chat's)."""
    return owner[len(CONVERSATION):] if owner.startswith(CONVERSATION) else None
