"""Chat models behind an OpenAI-compatible HTTP API: the cloud providers in models.yaml (Azure OpenAI
through the SDK's AzureOpenAI: deployment paths, the api-version query, an api-key header), or a user's
own vLLM / Ollama / llama.cpp server.

Every failure becomes a ProviderError that names the provider and what to fix. Tools offered to a chat
go to the provider as they are; the calls come back in streamed pieces and leave as whole ToolCall events.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator
from urllib.parse import urlparse

from chatchat.config import KeyStore, Settings
from chatchat.errors import ChatchatError, ProviderError
from chatchat.llm.base import ChatModel, Event, ModelRef, Request, estimate_tokens
from chatchat.llm.tools import ToolCalls
from chatchat.models.catalog import ProviderEntry

if TYPE_CHECKING:
    import openai

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
CLOUD_CONTEXT = 8192  # assumed context of a provider model the catalog does not describe


def needs_key(provider: ProviderEntry) -> bool:
    """Clouds need a key; a server of the user's own (a discover preset, or on this machine) may not."""
    return not provider.discover and urlparse(provider.base_url).hostname not in LOOPBACK


def check_address(provider: ProviderEntry) -> None:
    """Refuse a preset address that still holds its placeholder (Azure's https://{resource}.openai.azure.com)."""
    if "{" in provider.base_url:
        raise ProviderError(
            f"Set the address of your {provider.name} first ({provider.base_url}): Models tab → Model servers.",
            key="provider_address_unset", provider=provider.name, url=provider.base_url,
        )


def client_for(provider: ProviderEntry, api_key: str | None, timeout: float) -> openai.OpenAI:
    """The SDK client for a provider: AzureOpenAI where `api: azure` (the model name is the deployment), else
    OpenAI at the provider's base URL. A preset address still holding its placeholder is refused."""
    import openai

    check_address(provider)
    common: dict[str, Any] = dict(api_key=api_key or "not-needed", max_retries=1,
                                  timeout=openai.Timeout(timeout, connect=min(timeout, 10.0)))
    if provider.api == "azure":
        return openai.AzureOpenAI(azure_endpoint=provider.base_url, api_version=provider.api_version, **common)
    return openai.OpenAI(base_url=provider.base_url, **common)


class OpenAIChatModel(ChatModel):
    local = False
    can_call_tools = True

    def __init__(
        self,
        model_id: str,
        provider: ProviderEntry,
        model: str,
        api_key: str | None,
        *,
        context: int = CLOUD_CONTEXT,
        timeout: float = 60.0,
    ):
        if not api_key and needs_key(provider):
            where = f" or set the environment variable {provider.key_env}" if provider.key_env else ""
            raise ProviderError(
                f"No API key for {provider.name}: add one in Settings → Providers{where}."
            )
        self.model_id = model_id
        self.context = context
        self.provider = provider
        self.model = model
        self.timeout = timeout
        self._client = client_for(provider, api_key, timeout)

    @classmethod
    def load(cls, ref: ModelRef, path: Path | None, settings: Settings, *, timeout: float) -> "OpenAIChatModel":
        key = KeyStore(settings.home).get(ref.provider.id, ref.provider.key_env)
        context = ref.entry.context if ref.entry else CLOUD_CONTEXT
        return cls(ref.id, ref.provider, ref.remote_name, key, context=context, timeout=timeout)

    def _generate(self, request: Request) -> Iterator[Event]:
        options: dict[str, Any] = dict(model=self.model, stream=True, temperature=request.temperature,
                                       max_tokens=request.max_tokens)
        if request.stop:
            options["stop"] = list(request.stop)
        if request.prompt is not None:
            return self._deltas(self._client.completions.create(prompt=request.prompt, **options),
                                lambda choice: choice.text)
        if request.tools:
            options.update(tools=list(request.tools), tool_choice=request.tool_choice)
        stream = self._client.chat.completions.create(messages=list(request.messages), **options)
        return self._deltas(stream, lambda choice: choice.delta.content)

    def _deltas(self, stream, pick: Callable[[Any], str | None]) -> Iterator[Event]:
        received = False
        calls = ToolCalls(self.model_id)
        try:
            with stream:
                for chunk in stream:
                    if chunk.choices:
                        received = True
                        choice = chunk.choices[0]
                        yield pick(choice) or ""
                        for item in getattr(getattr(choice, "delta", None), "tool_calls", None) or []:
                            calls.add(item)
        except Exception as exc:
            if received and getattr(exc, "status_code", None) is None:
                raise ProviderError(
                    f"The answer stream from {self.provider.name} broke off mid-answer "
                    f"({type(exc).__name__}: {exc}). Retry."
                ) from exc
            raise
        yield from calls.calls()

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def close(self) -> None:
        self._client.close()

    def _error(self, exc: Exception) -> ChatchatError:
        return provider_error(self.provider, self.model, exc, self.timeout)


def provider_error(provider: ProviderEntry, model: str, exc: Exception, timeout: float) -> ProviderError:
    """A message for each way a provider call fails, naming the provider and the fix."""
    import openai

    name = provider.name
    status = getattr(exc, "status_code", None)
    detail = getattr(exc, "message", None) or str(exc)
    if status in (401, 403):
        env = f" (or ${provider.key_env})" if provider.key_env else ""
        text = f"{name} rejected the API key ({status}). Check the key in Settings → Providers{env}."
    elif status == 404:
        text = f"{name} has no model '{model}' (404). Check the model name against the provider's list."
    elif status == 429:
        text = f"{name} is limiting requests or the account is out of quota (429). Wait a moment and retry, or check your plan."
    elif status is not None and status >= 500:
        text = f"{name} had a server error ({status}). Try again later or pick another model."
    elif status is not None:
        text = f"{name} refused the request ({status}): {detail}"
    elif isinstance(exc, openai.APITimeoutError) or "timeout" in type(exc).__name__.lower():
        text = f"{name} did not answer within {timeout:g} s ({provider.base_url}). Check the network or the server, then retry."
    elif isinstance(exc, openai.APIConnectionError):
        text = f"Cannot reach {name} at {provider.base_url}. Check the address and your network, or that the server is running."
    else:  # the connection dropped mid-answer, or the stream was not valid SSE/JSON
        text = f"The answer stream from {name} broke off or was malformed ({type(exc).__name__}: {exc}). Retry."
    return ProviderError(text)
