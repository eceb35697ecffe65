"""The webhook worker without sockets: signing, retries, deactivation, chaos knobs."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from standardwebhooks import Webhook
from tests.unit.sandbox.sandbox_fakes import FakeSender

from cartwatch_tools.sandbox.delivery import RETRY_SCHEDULE_S, Target, WebhookDispatcher
from cartwatch_tools.sandbox.hooks import HookRegistry

SECRET = "s3cret"


@pytest.fixture
def registry() -> HookRegistry:
    return HookRegistry("abc123")


def _dispatcher(sender: FakeSender, **options: object) -> WebhookDispatcher:
    options.setdefault("time_scale", 0.0)
    dispatcher = WebhookDispatcher(send=sender, **options)  # type: ignore[arg-type]
    dispatcher.start()
    return dispatcher


@pytest.fixture
def stopper() -> Iterator[list[WebhookDispatcher]]:
    started: list[WebhookDispatcher] = []
    yield started
    for dispatcher in started:
        dispatcher.stop()


def _target(registry: HookRegistry, **headers: str) -> Target:
    hook = registry.create(
        "app",
        {"scope": "store/cart/*", "destination": "https://hooks.example.com/bc", "headers": headers or None},
    )
    return Target(hook, SECRET, registry)


def _events(n: int) -> list[dict[str, object]]:
    return [{"scope": "store/cart/updated", "data": {"type": "cart", "id": f"cart-{i}"}} for i in range(n)]


def test_each_attempt_is_signed_with_base64_of_the_client_secret(
    registry: HookRegistry, stopper: list[WebhookDispatcher]
) -> None:
    sender = FakeSender()
    dispatcher = _dispatcher(sender)
    stopper.append(dispatcher)
    dispatcher.enqueue(
        [(payload, _target(registry, **{"X-Cartwatch-Token": "tok"})) for payload in _events(1)]
    )
    assert dispatcher.wait_idle(5)
    (sent,) = sender.sent
    assert (
        Webhook(base64.b64encode(SECRET.encode()).decode()).verify(sent.body, dict(sent.headers))
        == _events(1)[0]
    )
    assert sent.headers["X-Cartwatch-Token"] == "tok"
    assert sent.headers["webhook-id"].startswith("msg_")
    assert "s3cret" not in repr(dispatcher.deliveries) and "tok" not in repr(dispatcher.deliveries)


@pytest.mark.parametrize("failure", [500, 302, 404])
def test_failures_follow_the_schedule_then_deactivate(
    registry: HookRegistry, stopper: list[WebhookDispatcher], failure: int
) -> None:
    sender = FakeSender(status=failure)
    dispatcher = _dispatcher(sender)
    stopper.append(dispatcher)
    target = _target(registry)
    dispatcher.enqueue([(_events(1)[0], target)])
    assert dispatcher.wait_idle(5)
    assert len(sender.sent) == 1 + len(RETRY_SCHEDULE_S)
    assert len({s.headers["webhook-id"] for s in sender.sent}) == 1
    assert not registry.is_active(target.hook.id)


def test_no_answer_counts_as_failure_and_a_recovery_stops_retries(
    registry: HookRegistry, stopper: list[WebhookDispatcher]
) -> None:
    def flaky(n: int) -> int:
        if n == 1:
            raise TimeoutError("no answer")
        return 500 if n == 2 else 200

    sender = FakeSender(answer=flaky)
    dispatcher = _dispatcher(sender)
    stopper.append(dispatcher)
    dispatcher.enqueue([(_events(1)[0], _target(registry))])
    assert dispatcher.wait_idle(5)
    assert [(d.attempt, d.status, d.error) for d in dispatcher.deliveries] == [
        (1, None, "TimeoutError"),
        (2, 500, None),
        (3, 200, None),
    ]


def test_retries_wait_for_the_scaled_schedule(
    registry: HookRegistry, stopper: list[WebhookDispatcher]
) -> None:
    sender = FakeSender(status=500)
    dispatcher = _dispatcher(sender, time_scale=1.0)  # the first retry is a minute away
    stopper.append(dispatcher)
    dispatcher.enqueue([(_events(1)[0], _target(registry))])
    assert not dispatcher.wait_idle(0.2)
    assert len(sender.sent) == 1


def _chaos(seed: int) -> list[tuple[str, bool]]:
    sender = FakeSender()
    dispatcher = _dispatcher(sender, seed=seed, duplicate_rate=0.25, reorder=True)
    target = _target(HookRegistry("abc123"))
    for batch in range(5):
        dispatcher.enqueue([({**payload, "batch": batch}, target) for payload in _events(4)])
    assert dispatcher.wait_idle(5)
    dispatcher.stop()
    return [(f"{d.payload['batch']}:{d.payload['data']}", d.duplicate) for d in dispatcher.deliveries]


def test_duplicates_and_reordering_repeat_with_the_seed() -> None:
    first = _chaos(11)
    assert first == _chaos(11)
    assert first != _chaos(12)
    originals = [key for key, duplicate in first if not duplicate]
    assert len(originals) == len(set(originals)) == 20
    assert originals != sorted(originals)
    assert any(duplicate for _, duplicate in first)
    # Reordering stays within a window: a batch never overtakes the one queued before it.
    batches = [int(key.split(":")[0]) for key in originals]
    assert batches == sorted(batches)


def test_deliveries_for_a_hook_switched_off_meanwhile_are_dropped(
    registry: HookRegistry, stopper: list[WebhookDispatcher]
) -> None:
    sender = FakeSender(status=500)
    dispatcher = _dispatcher(sender, time_scale=1e-3)
    stopper.append(dispatcher)
    target = _target(registry)
    dispatcher.enqueue([(_events(1)[0], target)])
    registry.update("app", target.hook.id, {"is_active": False})
    assert dispatcher.wait_idle(5)
    assert len(sender.sent) <= 1
