"""One LLM call for one item: cache, budget, transient retries, validation re-asks, metrics.

`LLMClient.ask` never raises for a bad reply or a failed request: it returns an `LLMResult`
whose `failure` names the reason ("invalid reply", "malformed reply", "request failed",
"LLM unavailable", "budget reached"), which the plugin counts with `stats.drop`; each failed
item is also a one-line warning (except the budget, said once, and an interruption).

Every request has a total deadline of `timeout` seconds (`toolbox.llm.deadline`), whatever
the server does. A server's token counts are trusted only up to what was asked for: at most
`max_tokens` completion tokens, and a few times the prompt's estimate (`MAX_PROMPT_OVERCOUNT`).
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar

from toolbox.core.plugin import BuildContext
from toolbox.core.progress import progress
from toolbox.core.tokens import count_tokens
from toolbox.llm.budget import BudgetReached
from toolbox.llm.cache import CachedReply, ReplyCache, request_key
from toolbox.llm.completion import Completion, MalformedReply, read_completion
from toolbox.llm.concurrency import ordered_map
from toolbox.llm.config import DEFAULT_MAX_TOKENS, LLMOptions, resolve_endpoint
from toolbox.llm.metrics import RequestRecord
from toolbox.llm.prepare import MessageHook, Messages
from toolbox.llm.runtime import runtime_for
from toolbox.llm.structured import Parser

T = TypeVar("T")
R = TypeVar("R")
log = logging.getLogger("datamakr")

IMAGE_TOKENS = 1500  # budget estimate per image part (a 2048 px high-detail image is ~1100)
# a server's prompt count may exceed our estimate (another tokenizer, image tiling, a chat template
# and default system prompt) by this factor plus these tokens, not more
MAX_PROMPT_OVERCOUNT = 4
PROMPT_TEMPLATE_TOKENS = 1000
TRANSIENT_STATUS = {408, 409, 429}
SLOT_LEASE_MARGIN = 30.0  # seconds beyond twice the request deadline before a held slot counts as abandoned
RETRY_AFTER_MAX = 120.0  # seconds: a longer Retry-After is a quota that will not come back during the build
NOT_PER_ITEM = {"budget reached", "interrupted"}  # said once (the budget) or by the user (Ctrl+C), not per item
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


def _retry_after(exc: Exception) -> float | None:
    """Seconds the server asks to wait (`retry-after-ms`, `retry-after` in seconds or as a date)."""
    response = getattr(exc, "response", None)
    if response is None:
        return None
    headers = response.headers
    try:
        if "retry-after-ms" in headers:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):  # unreadable: our own backoff applies
        return None


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
        openai = _openai()
        from toolbox.llm.deadline import with_deadlines  # imports httpx: on first use, as openai

        self.client = openai.OpenAI(
            api_key=self.endpoint.api_key.get_secret_value(),
            base_url=self.endpoint.base_url,
            max_retries=0,  # retries are ours: counted, budgeted, with jitter
            timeout=options.timeout,
            http_client=with_deadlines(openai.DefaultHttpxClient(timeout=options.timeout)),
        )
        folder = ctx.path(options.cache_dir) if options.cache_dir else ctx.cache_dir / "llm"
        self.cache = ReplyCache(folder, enabled=options.cache)
        self.runtime = runtime_for(ctx)
        self._prepare = prepare
        self._usage_clamp_said = False

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
                return self._done(item, LLMResult(failure="budget reached", detail=str(exc)))
            except RequestFailed as exc:
                return self._done(item, LLMResult(failure=exc.reason, detail=exc.detail))
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
            return self._done(item, LLMResult(value=value))
        return self._done(item, LLMResult(failure="invalid reply", detail=error))

    # -- one request ------------------------------------------------------------------------

    def _done(self, item: str, result: LLMResult[T]) -> LLMResult[T]:
        if result.failure and result.failure not in NOT_PER_ITEM:
            log.warning("%s: %s: %s: %s", self.purpose, item, result.failure, " ".join(result.detail.split())[:300])
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
            try:
                with self._slot():
                    started = time.perf_counter()
                    body_bytes = self._create(body)
            except InterruptedError:
                self.runtime.budget.settle(reservation, 0.0)
                raise RequestFailed("interrupted", "the build was interrupted") from None
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
            try:
                completion = read_completion(body_bytes)
            except MalformedReply as exc:
                # the server may have run the model: the whole estimate counts
                self.runtime.budget.settle(reservation, estimate)
                self.runtime.record(
                    RequestRecord(
                        item=item,
                        purpose=self.purpose,
                        outcome="error",
                        round=round_,
                        attempt=attempt,
                        status=200,
                        latency_s=round(latency, 4),
                        cost_usd=estimate,
                        error=str(exc),
                    )
                )
                raise RequestFailed("malformed reply", str(exc)) from None
            reply = self._reply(completion, prompt_estimate)
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
                usage_estimated=completion.usage is None,
                latency_s=round(latency, 4),
                cost_usd=cost,
            )
            self.runtime.record(record)
            self.cache.put(key, reply)
            return reply.content, record
        raise RequestFailed("LLM unavailable", f"{last_error} (after {self.options.max_retries + 1} attempts)")

    def _create(self, body: dict[str, Any]) -> bytes:
        """The body of the server's 200 reply, read within the request's total deadline."""
        from toolbox.llm.deadline import request_deadline

        kwargs = dict(body)
        extra_body = kwargs.pop("extra_body", None)
        with request_deadline(self.options.timeout):
            raw = self.client.chat.completions.with_raw_response.create(**kwargs, extra_body=extra_body)
            return raw.http_response.content

    def _slot(self) -> contextlib.AbstractContextManager[None]:
        """One of the build's `concurrency` request slots of this plugin, shared by every worker;
        a slot whose worker died is free again once the request's deadline has long passed."""
        lease = self.options.timeout * 2 + SLOT_LEASE_MARGIN
        return self.runtime.budget.slot(self.purpose, self.options.concurrency, lease, self.runtime.stop)

    def _reply(self, completion: Completion, prompt_estimate: int) -> CachedReply:
        content = completion.content
        usage = completion.usage
        reported_prompt = usage.prompt_tokens if usage and usage.prompt_tokens is not None else prompt_estimate
        reported_completion = (
            usage.completion_tokens if usage and usage.completion_tokens is not None else count_tokens(content)
        )
        prompt_tokens = min(reported_prompt, MAX_PROMPT_OVERCOUNT * prompt_estimate + PROMPT_TEMPLATE_TOKENS)
        completion_tokens = min(reported_completion, self.options.max_tokens or reported_completion)
        if (prompt_tokens, completion_tokens) != (reported_prompt, reported_completion) and not self._usage_clamp_said:
            self._usage_clamp_said = True
            log.warning(
                "%s: a reply counts %d prompt and %d completion tokens for a prompt of about %d and "
                "max_tokens %s; counting at most what was asked for (said once)",
                self.purpose,
                reported_prompt,
                reported_completion,
                prompt_estimate,
                self.options.max_tokens,
            )
        return CachedReply(
            content=content,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            finish_reason=completion.finish_reason,
            model=completion.model,
        )

    def _backoff(self, attempt: int, exc: Exception) -> None:
        """Wait before the next attempt: the server's Retry-After when it gives one (an item whose
        server asks for more than RETRY_AFTER_MAX fails now), else exponential backoff with jitter."""
        o = self.options
        delay = min(o.backoff_max, o.backoff_base * 2**attempt)
        delay = delay / 2 + random.uniform(0, delay / 2)  # jitter, so parallel retries spread out
        retry_after = _retry_after(exc)
        if retry_after is not None:
            if retry_after > RETRY_AFTER_MAX:
                raise RequestFailed(
                    "LLM unavailable",
                    f"{_describe(exc)} (the server asks to retry after "
                    f"{retry_after:.0f} s, more than {RETRY_AFTER_MAX:.0f})",
                )
            delay = max(delay, retry_after)
        if self.runtime.stop.wait(delay):
            raise RequestFailed("interrupted", "the build was interrupted")
