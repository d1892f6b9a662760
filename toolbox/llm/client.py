"""One LLM call for one item: cache, budget, transient retries, validation re-asks, metrics.

`LLMClient.ask` never raises for a bad reply or a failed request: it returns an `LLMResult`
whose `failure` names the reason ("invalid reply", "request failed", "LLM unavailable",
"budget reached"), which the plugin counts with `stats.drop`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from toolbox.core.plugin import BuildContext
from toolbox.core.progress import progress
from toolbox.core.tokens import count_tokens
from toolbox.llm.budget import BudgetReached
from toolbox.llm.cache import CachedReply, ReplyCache, request_key
from toolbox.llm.concurrency import ordered_map
from toolbox.llm.config import DEFAULT_MAX_TOKENS, LLMOptions, resolve_endpoint
from toolbox.llm.metrics import RequestRecord
from toolbox.llm.prepare import MessageHook, Messages
from toolbox.llm.runtime import runtime_for
from toolbox.llm.structured import Parser

T = TypeVar("T")
R = TypeVar("R")

IMAGE_TOKENS = 1500  # budget estimate per image part (a 2048 px high-detail image is ~1100)
TRANSIENT_STATUS = {408, 409, 429}
FEEDBACK = "Your reply could not be used: {error}\nReply again with only a JSON object that matches the schema."


@dataclass
class LLMResult(Generic[T]):
    value: T | None = None
    failure: str | None = None  # short reason, counted in the build summary
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.failure is None


class RequestFailed(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _openai() -> Any:
    """The `openai` package, imported on first use: it takes seconds to import, and builds that
    use no LLM should not pay for it."""
    import openai

    return openai


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    text = " ".join(str(getattr(exc, "message", exc)).split())[:300]
    return f"HTTP {status}: {text}" if status else f"{type(exc).__name__}: {text}"


def _is_transient(exc: Exception) -> bool:
    openai = _openai()
    if isinstance(exc, (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError)):
        return True  # APITimeoutError is an APIConnectionError
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and (status in TRANSIENT_STATUS or status >= 500)


class LLMClient:
    """The `openai` client for one plugin, on the build's shared budget, cache and metrics.

    `prepare` is the redaction seam: every message list passes through it right before it is
    hashed and sent."""

    def __init__(
        self,
        options: LLMOptions,
        ctx: BuildContext,
        purpose: str,
        where: str | None = None,
        prepare: MessageHook | None = None,
    ) -> None:
        self.options = options
        self.purpose = purpose
        self.endpoint = resolve_endpoint(options, ctx.base_dir, where or purpose)
        self.client = _openai().OpenAI(
            api_key=self.endpoint.api_key.get_secret_value(),
            base_url=self.endpoint.base_url,
            max_retries=0,  # retries are ours: counted, budgeted, with jitter
            timeout=options.timeout,
        )
        folder = ctx.path(options.cache_dir) if options.cache_dir else ctx.cache_dir / "llm"
        self.cache = ReplyCache(folder, enabled=options.cache)
        self.runtime = runtime_for(ctx)
        self._prepare = prepare

    @property
    def model(self) -> str:
        return self.endpoint.model

    # -- public -------------------------------------------------------------------------

    def prepare_messages(self, messages: Messages) -> Messages:
        return self._prepare(messages) if self._prepare is not None else messages

    def map(self, fn: Callable[[T], R], items: Iterable[T], desc: str | None = None) -> Iterator[R]:
        """`fn` over `items` with `concurrency` requests in flight, results in input order. With
        `desc`, a progress bar on a terminal: its total is len(items), or for a stream the items
        read so far."""
        if desc is None:
            return ordered_map(fn, items, self.options.concurrency, self.runtime.stop)
        return self._map_with_progress(fn, items, desc)

    def _map_with_progress(self, fn: Callable[[T], R], items: Iterable[T], desc: str) -> Iterator[R]:
        sized = isinstance(items, Sized)
        with progress(total=len(items) if sized else 0, desc=desc, unit="item") as bar:

            def counted() -> Iterator[T]:
                for item in items:
                    if not sized:
                        bar.total += 1
                        bar.refresh()
                    yield item

            for result in ordered_map(fn, counted(), self.options.concurrency, self.runtime.stop):
                bar.update()
                yield result

    def ask(
        self, messages: Messages, parser: Parser[T], *, item: str, response_format: dict[str, Any] | None = None
    ) -> LLMResult[T]:
        """Send `messages`; parse the reply with `parser`; re-ask with the error when it raises."""
        conversation = list(messages)
        error = ""
        for round_ in range(self.options.max_validation_retries + 1):
            try:
                content, record = self._send(conversation, response_format, item, round_)
            except BudgetReached as exc:
                self.runtime.budget_stopped(self.options.budget_usd or 0.0)
                return self._done(LLMResult(failure="budget reached", detail=str(exc)))
            except RequestFailed as exc:
                return self._done(LLMResult(failure=exc.reason, detail=exc.detail))
            try:
                value = parser(content)
            except Exception as exc:  # any parser error is the reply's fault, never the build's
                error = " ".join(str(exc).split())[:1000] or type(exc).__name__
                if record.outcome == "ok":
                    record.outcome = "invalid"
                record.error = error
                conversation = [
                    *conversation,
                    {"role": "assistant", "content": content},
                    {"role": "user", "content": FEEDBACK.format(error=error)},
                ]
                continue
            return self._done(LLMResult(value=value))
        return self._done(LLMResult(failure="invalid reply", detail=error))

    # -- one request ------------------------------------------------------------------------

    def _done(self, result: LLMResult[T]) -> LLMResult[T]:
        self.runtime.item_done(result.failure)
        return result

    def _body(self, messages: Messages, response_format: dict[str, Any] | None) -> dict[str, Any]:
        o = self.options
        body: dict[str, Any] = {"model": self.endpoint.model, "messages": messages}
        if o.temperature is not None:
            body["temperature"] = o.temperature
        if o.max_tokens is not None:
            body["max_tokens"] = o.max_tokens
        if response_format is not None:
            body["response_format"] = response_format
        if o.extra_body:
            body["extra_body"] = o.extra_body
        return body

    def _prompt_tokens(self, messages: Messages) -> int:
        total = 0
        for message in messages:
            content = message.get("content")
            total += 4
            if isinstance(content, str):
                total += count_tokens(content)
            elif isinstance(content, list):
                for part in content:
                    total += count_tokens(part.get("text", "")) if part.get("type") == "text" else IMAGE_TOKENS
        return total

    def _cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        price = self.endpoint.price
        return price.cost(prompt_tokens, completion_tokens) if price else 0.0

    def _send(
        self, conversation: Messages, response_format: dict[str, Any] | None, item: str, round_: int
    ) -> tuple[str, RequestRecord]:
        messages = self.prepare_messages(conversation)
        body = self._body(messages, response_format)
        key = request_key(body)
        cached = self.cache.get(key)
        if cached is not None:
            record = RequestRecord(
                item=item,
                purpose=self.purpose,
                outcome="cached",
                round=round_,
                prompt_tokens=cached.prompt_tokens,
                completion_tokens=cached.completion_tokens,
            )
            self.runtime.record(record)
            return cached.content, record
        prompt_estimate = self._prompt_tokens(messages)
        estimate = self._cost(prompt_estimate, self.options.max_tokens or DEFAULT_MAX_TOKENS)
        last_error = ""
        openai = _openai()
        for attempt in range(self.options.max_retries + 1):
            if self.runtime.stop.is_set():
                raise RequestFailed("interrupted", "the build was interrupted")
            reservation = self.runtime.budget.reserve(estimate, self.options.budget_usd)
            started = time.perf_counter()
            try:
                response = self._create(body)
            except openai.OpenAIError as exc:
                latency = time.perf_counter() - started
                transient = _is_transient(exc)
                # a timed-out request may still have been billed for its prompt
                cost = self._cost(prompt_estimate, 0) if isinstance(exc, openai.APITimeoutError) else 0.0
                self.runtime.budget.settle(reservation, cost)
                last_error = _describe(exc)
                self.runtime.record(
                    RequestRecord(
                        item=item,
                        purpose=self.purpose,
                        outcome="transient" if transient else "error",
                        round=round_,
                        attempt=attempt,
                        status=getattr(exc, "status_code", None),
                        latency_s=round(latency, 4),
                        cost_usd=cost,
                        error=last_error,
                    )
                )
                if not transient:
                    raise RequestFailed("request failed", last_error) from None
                if attempt < self.options.max_retries:
                    self._backoff(attempt, exc)
                continue
            except BaseException:
                self.runtime.budget.settle(reservation, 0.0)
                raise
            latency = time.perf_counter() - started
            content, reply = self._reply(response, prompt_estimate)
            cost = self._cost(reply.prompt_tokens, reply.completion_tokens)
            self.runtime.budget.settle(reservation, cost)
            record = RequestRecord(
                item=item,
                purpose=self.purpose,
                outcome="ok",
                round=round_,
                attempt=attempt,
                status=200,
                prompt_tokens=reply.prompt_tokens,
                completion_tokens=reply.completion_tokens,
                usage_estimated=response.usage is None,
                latency_s=round(latency, 4),
                cost_usd=cost,
            )
            self.runtime.record(record)
            self.cache.put(key, reply)
            return content, record
        raise RequestFailed("LLM unavailable", f"{last_error} (after {self.options.max_retries + 1} attempts)")

    def _create(self, body: dict[str, Any]) -> Any:
        kwargs = dict(body)
        extra_body = kwargs.pop("extra_body", None)
        return self.client.chat.completions.create(**kwargs, extra_body=extra_body)

    def _reply(self, response: Any, prompt_estimate: int) -> tuple[str, CachedReply]:
        choice = response.choices[0] if response.choices else None
        content = (choice.message.content if choice and choice.message else None) or ""
        if not content and choice and getattr(choice.message, "refusal", None):
            content = f"(refused: {choice.message.refusal})"
        usage = response.usage
        reply = CachedReply(
            content=content,
            prompt_tokens=usage.prompt_tokens if usage else prompt_estimate,
            completion_tokens=(usage.completion_tokens or 0) if usage else count_tokens(content),
            finish_reason=choice.finish_reason if choice else None,
            model=response.model,
        )
        return content, reply

    def _backoff(self, attempt: int, exc: Exception) -> None:
        o = self.options
        delay = min(o.backoff_max, o.backoff_base * 2**attempt)
        delay = delay / 2 + random.uniform(0, delay / 2)  # jitter, so parallel retries spread out
        response = getattr(exc, "response", None)
        retry_after = response.headers.get("retry-after") if response is not None else None
        if retry_after:
            try:
                delay = max(delay, min(float(retry_after), o.backoff_max))
            except ValueError:
                pass
        if self.runtime.stop.wait(delay):
            raise RequestFailed("interrupted", "the build was interrupted")
