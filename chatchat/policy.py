"""Who may see and change what: the one owner of every access rule. The UI, the API and the CLI ask the
policy the service holds (`services.policy`) and keep no rule of their own.

Two policies: `OpenPolicy` on a desktop install (one person, everything allowed) and `SpacePolicy` on a
Hugging Face Space (the env var SPACE_ID is set), where one app serves many anonymous visitors. Each
visitor may query the shared demo knowledge base but not change it, gets a knowledge base of their own for
uploads (created on their first upload, dropped when their session ends), sees only the conversations
they started, and changes no settings and no models. `current()` picks the policy for this process.

Who owns a knowledge base is a field of it (`KBInfo.owner`, set when it is created): '' for a person's
own, else the internal use it serves (a file chat's attachments, `chatchat ask --files`, a Space
visitor's uploads). Internal ones are listed to nobody but their owner (`visible`).

This module imports nothing of the service or the store (both import it); what it needs of the service
is the `Directory` protocol below.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, Sequence, TypeVar

from chatchat.errors import AlreadyExists, ChatchatError, InvalidName, NotFound

if TYPE_CHECKING:
    from chatchat.config import Settings

SPACE_ENV = "SPACE_ID"
DEMO_KB = "demo"  # the knowledge base a Space's visitors share (its contents: chatchat.space)

CONVERSATION = "conversation:"  # + conversation id: the files attached to one file chat
ASK = "ask"  # the temporary knowledge base of one `chatchat ask --files`
VISITOR = "visitor:"  # + session digest: one Space visitor's uploads
# The folder names of internal knowledge bases (their owner field, not the name, hides them).
CONVERSATION_KB_PREFIX = "_conv-"  # + conversation id
ASK_KB_PREFIX = "_ask-"  # + a random suffix
SESSION_KB_PREFIX = "_visitor-"  # + session digest

# Knowledge bases made before `owner` existed were told apart by their name alone.
_LEGACY_PREFIXES = {CONVERSATION_KB_PREFIX: CONVERSATION, ASK_KB_PREFIX: ASK, SESSION_KB_PREFIX: VISITOR}


class ProtectedKB(ChatchatError):
    code = "protected"
    status = 403


@dataclass(frozen=True)
class Caller:
    """Who asks: `session` is the browser session's hash; '' for a caller without one (the API, the CLI)."""

    session: str = ""


class _Identified(Protocol):
    id: str


C = TypeVar("C", bound=_Identified)


class Directory(Protocol):
    """What a policy needs of the service (chatchat.service.Services)."""

    def list_kbs(self, viewer: str = "") -> list[Any]: ...
    def internal_kbs(self, kind: str) -> list[Any]: ...
    def kb_info(self, name: str) -> Any: ...
    def create_kb(self, name: str, description: str = "", embedding: str | None = None, chunk_size: int | None = None,
                  chunk_overlap: int | None = None, owner: str = "") -> Any: ...
    def delete_kb(self, name: str) -> None: ...
    def delete_conversation(self, conversation_id: str) -> None: ...


def visible(owner: str, viewer: str = "") -> bool:
    """A knowledge base with this `owner` ('' for a person's own) is listed to `viewer`: everyone sees
    the person's knowledge bases, and an internal one is seen only by the viewer that owns it."""
    return not owner or owner == viewer


def legacy_owner(name: str) -> str:
    """The owner of a knowledge base created before the field existed, recognised by its name (old data only)."""
    for prefix, owner in _LEGACY_PREFIXES.items():
        if name.startswith(prefix):
            return owner + name[len(prefix):] if owner.endswith(":") else owner
    return ""


def conversation_owner(conversation_id: str) -> str:
    return CONVERSATION + conversation_id


def owned_conversation(owner: str) -> str | None:
    """The conversation whose files a knowledge base holds (None: not a file chat's)."""
    return owner[len(CONVERSATION):] if owner.startswith(CONVERSATION) else None


def is_space() -> bool:
    return bool(os.environ.get(SPACE_ENV))


def current() -> Policy:
    """The policy of this process: a Space's when SPACE_ID is set, else the open one."""
    return SpacePolicy() if is_space() else OpenPolicy()


class Policy:
    """What every policy answers. `check_*` raise (NotFound: as if it did not exist; ProtectedKB: seen but
    not to be changed); `may_*` answer the same question as a bool, for a UI that hides what it refuses."""

    public = False  # one app for many anonymous visitors (a Space): public settings, a demo built at start

    def visible_kbs(self, services: Directory, caller: Caller) -> list[Any]:
        """The knowledge bases `caller` may list (KBInfo)."""
        raise NotImplementedError

    def own_kb(self, caller: Caller) -> str | None:
        """The knowledge base kept for this caller alone (a Space visitor's uploads), or None."""
        return None

    def check_visible(self, kb_name: str, caller: Caller) -> None:
        """Call before every search, chat or document listing."""

    def check_writable(self, kb_name: str, caller: Caller) -> None:
        """Call before delete, rebuild, add and remove."""

    def check_create(self, caller: Caller) -> None:
        """Call before creating a knowledge base."""

    def may_write(self, kb_name: str, caller: Caller) -> bool:
        try:
            self.check_visible(kb_name, caller)
            self.check_writable(kb_name, caller)
        except (NotFound, ProtectedKB):
            return False
        return True

    def may_create(self, caller: Caller) -> bool:
        try:
            self.check_create(caller)
        except ProtectedKB:
            return False
        return True

    def upload_target(self, services: Directory, caller: Caller, kb_name: str) -> str:
        """The knowledge base an upload `caller` makes into `kb_name` goes to."""
        self.check_writable(kb_name, caller)
        return kb_name

    def may_change_settings(self) -> bool:
        return not self.public

    def may_manage_models(self) -> bool:
        """Download, delete, add or pick a default model."""
        return not self.public

    def may_search_web(self, settings: Settings) -> bool:
        """Send questions to a search engine and read the pages it finds (search-engine chat, the agent's
        web tools); `public` policies also refuse pages of this machine's own network."""
        return True

    def started_conversation(self, caller: Caller, conversation_id: str) -> None:
        """`caller` made this conversation (a Space remembers it, to show it to them alone)."""

    def sees_conversation(self, caller: Caller, conversation_id: str) -> bool:
        return True

    def check_conversation(self, caller: Caller, conversation_id: str) -> None:
        """NotFound for a conversation `caller` may not open, exactly as if it did not exist."""
        if not self.sees_conversation(caller, conversation_id):
            raise NotFound(f"No conversation '{conversation_id}'.")

    def visible_conversations(self, caller: Caller, conversations: Sequence[C]) -> list[C]:
        """Of `conversations`, those `caller` may list, in their order."""
        return [c for c in conversations if self.sees_conversation(caller, c.id)]

    def end_session(self, services: Directory, caller: Caller) -> None:
        """A browser session closed: drop what was kept for it alone."""

    def end_all_sessions(self, services: Directory) -> list[str]:
        """At start no session is alive: drop what earlier ones left. Returns the knowledge bases dropped."""
        return []


class OpenPolicy(Policy):
    """A desktop install: the person at the keyboard may do everything."""

    def visible_kbs(self, services: Directory, caller: Caller) -> list[Any]:
        return services.list_kbs()


class SpacePolicy(Policy):
    """A Hugging Face Space: visitors share the demo read-only, each has their own uploads and conversations."""

    public = True

    def __init__(self, protected: frozenset[str] = frozenset({DEMO_KB})):
        self.protected = protected
        self._lock = threading.Lock()
        self._conversations: dict[str, set[str]] = {}  # session -> the conversations it started

    def visible_kbs(self, services: Directory, caller: Caller) -> list[Any]:
        """The protected ones and the visitor's own; a caller without a session: the protected ones only."""
        viewer = session_owner(caller.session) if caller.session else ""
        return [kb for kb in services.list_kbs(viewer) if kb.name in self.protected or kb.owner]

    def own_kb(self, caller: Caller) -> str | None:
        return session_kb_name(caller.session) if caller.session else None

    def may_search_web(self, settings: Settings) -> bool:
        return settings.web_enabled_on_space  # off unless the Space's owner turned it on

    def check_visible(self, kb_name: str, caller: Caller) -> None:
        if kb_name not in self.protected and kb_name != self.own_kb(caller):
            raise NotFound(f"No knowledge base named '{kb_name}'.", key="kb_not_found", name=kb_name)

    def check_writable(self, kb_name: str, caller: Caller) -> None:
        if kb_name in self.protected:
            raise ProtectedKB(f"The knowledge base '{kb_name}' is the shared demo: you can search it but not change "
                              "it. Upload your files to your own knowledge base instead.", key="kb_protected", name=kb_name)

    def check_create(self, caller: Caller) -> None:
        raise ProtectedKB("This shared Space does not create knowledge bases over the API; "
                          "upload files in the web page, which gives each visitor one of their own.")

    def upload_target(self, services: Directory, caller: Caller, kb_name: str) -> str:
        """The visitor's own knowledge base, whatever `kb_name` is: created on first use."""
        name = session_kb_name(caller.session)
        try:
            services.create_kb(name, description="uploads of one visitor; removed when the session ends",
                               owner=session_owner(caller.session))
        except AlreadyExists:
            pass
        return name

    def started_conversation(self, caller: Caller, conversation_id: str) -> None:
        with self._lock:
            self._conversations.setdefault(caller.session, set()).add(conversation_id)

    def sees_conversation(self, caller: Caller, conversation_id: str) -> bool:
        with self._lock:
            return conversation_id in self._conversations.get(caller.session, ())

    def end_session(self, services: Directory, caller: Caller) -> None:
        """The visitor's knowledge base and conversations go (they were never listed to anyone else)."""
        if not caller.session:
            return
        drop_session_kb(services, session_kb_name(caller.session))
        with self._lock:
            started = self._conversations.pop(caller.session, set())
        for conversation_id in started:
            try:
                services.delete_conversation(conversation_id)
            except ChatchatError:
                pass

    def end_all_sessions(self, services: Directory) -> list[str]:
        names = [kb.name for kb in services.internal_kbs(VISITOR)]
        for name in names:
            drop_session_kb(services, name)
        return names


def _digest(session: str) -> str:
    if not session:
        raise InvalidName("This request has no browser session, so it has no knowledge base of its own.")
    return hashlib.sha256(session.encode("utf-8")).hexdigest()[:24]


def session_kb_name(session: str) -> str:
    """The knowledge base of one browser session. Hashed, so the name does not reveal the session id."""
    return SESSION_KB_PREFIX + _digest(session)


def session_owner(session: str) -> str:
    """The owner recorded in a session's knowledge base: only that session lists it."""
    return VISITOR + _digest(session)


def drop_session_kb(services: Directory, name: str) -> None:
    """Remove a session's knowledge base with its files (no-op when it is already gone). Refuses any
    other knowledge base, so a wrong name can never delete a user's data."""
    try:
        if not services.kb_info(name).owner.startswith(VISITOR):
            raise InvalidName(f"'{name}' is not a session knowledge base; only those are dropped with a session.")
        services.delete_kb(name)
    except NotFound:
        pass
