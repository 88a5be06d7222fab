"""Chat models behind an OpenAI-compatible HTTP API: the cloud providers in models.yaml, or a
user's own vLLM / Ollama / llama.cpp server.

Every failure becomes a ProviderError that names the provider and what to fix.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Iterator, Sequence
from urllib.parse import urlparse

from chatchat.models.catalog import ProviderEntry
from chatchat.errors import ChatchatError, ProviderError
from chatchat.llm.base import Message, estimate_tokens, guarded_stream

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def needs_key(provider: ProviderEntry) -> bool:
    """Clouds need a key; a server of the user's own (custom, or on this machine) may not."""
    return provider.id != "custom" and urlparse(provider.base_url).hostname not in LOOPBACK


class OpenAIChatModel:
    local = False

    def __init__(
        self,
        model_id: str,
        provider: ProviderEntry,
        model: str,
        api_key: str | None,
        *,
        context: int = 8192,
        timeout: float = 60.0,
    ):
        import openai

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
        self._client = openai.OpenAI(
            base_url=provider.base_url,
            api_key=api_key or "not-needed",
            timeout=openai.Timeout(timeout, connect=min(timeout, 10.0)),
            max_retries=1,
        )

    def chat(
        self,
        messages: Sequence[Message],
        *,
        temperature: float = 0.7,
        max_tokens: int = 512,
        stop: Sequence[str] | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        def start() -> Iterator[str]:
            stream = self._client.chat.completions.create(
                model=self.model,
                messages=list(messages),
                stream=True,
                temperature=temperature,
                max_tokens=max_tokens,
                **({"stop": list(stop)} if stop else {}),
            )
            return self._deltas(stream, lambda choice: choice.delta.content)

        return guarded_stream(start, cancel=cancel, lock=None, to_error=self._error)

    def complete(
        self,
        prompt: str,
        *,
        temperature: float = 0.7,
        max_tokens: int = 512,
        stop: Sequence[str] | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        def start() -> Iterator[str]:
            stream = self._client.completions.create(
                model=self.model,
                prompt=prompt,
                stream=True,
                temperature=temperature,
                max_tokens=max_tokens,
                **({"stop": list(stop)} if stop else {}),
            )
            return self._deltas(stream, lambda choice: choice.text)

        return guarded_stream(start, cancel=cancel, lock=None, to_error=self._error)

    def _deltas(self, stream, pick: Callable[[Any], str | None]) -> Iterator[str]:
        received = False
        try:
            with stream:
                for chunk in stream:
                    if chunk.choices:
                        received = True
                        yield pick(chunk.choices[0]) or ""
        except Exception as exc:
            if received and getattr(exc, "status_code", None) is None:
                raise ProviderError(
                    f"The answer stream from {self.provider.name} broke off mid-answer "
                    f"({type(exc).__name__}: {exc}). Retry."
                ) from exc
            raise

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
