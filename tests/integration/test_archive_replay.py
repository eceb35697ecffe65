"""The event archive and replay against the whole local pipeline: every published event is
archived whole; a replay to a queue delivers exactly the range's events with their original
ids; a replay to the topic reaches subscribers and is not archived twice."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from tests.integration.pipeline_support import World
from tests.integration.test_events import ABANDONED, DAY, HOUR, later
from tests.support import unique_name

from cartwatch.adapters.event_archive import EventArchive
from cartwatch_tools.cli.info_file import LocalInfo
from cartwatch_tools.cli.main import main

pytestmark = pytest.mark.integration


def cli(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    pipeline = world.pipeline
    info = tmp_path / "local.json"
    if not info.exists():
        LocalInfo(
            webhook_base_url=f"{pipeline.gateway.url}/webhooks/bigcommerce",
            api_url=pipeline.gateway.url,
            aws_endpoint_url=pipeline.resources.endpoint_url,
            region=pipeline.resources.region,
            topic_arn=pipeline.resources.topic_arn,
            bigcommerce_api_url=world.sandbox.url,
            table_name=pipeline.resources.table_name,
            ssm_prefix=pipeline.ssm_prefix,
            intake_queue_url=pipeline.resources.intake_queue_url,
            intake_dlq_url=pipeline.resources.intake_dlq_url,
            publisher_dlq_url=pipeline.resources.publisher_dlq_url,
            archive_bucket=pipeline.resources.archive_bucket,
            pid=os.getpid(),
            sandbox=True,
        ).write(info)
    code = main([*args, "--local", "--info-file", str(info)])
    out, err = capsys.readouterr()
    return code, out, err


def archived_everything(world: World) -> list[dict[str, Any]]:
    pipeline = world.pipeline
    archive = EventArchive(pipeline.client("s3"), pipeline.resources.archive_bucket)
    return [
        json.loads(e.body)
        for key in archive.keys(world.store_hash, 0, 4_000_000_000)
        for e in archive.events(key)
    ]


def test_an_archive_write_s3_refuses_is_retried_from_the_queue_and_kept_once(world: World) -> None:
    world.shop.storefront_add_to_cart(86, 1)
    world.deliver()
    pipeline = world.pipeline
    pipeline.process_intake()
    pipeline.sweep(later(HOUR + 5))
    assert pipeline.publish() == 1
    s3, bucket = pipeline.client("s3"), pipeline.resources.archive_bucket
    # The bucket gone for a moment (an outage, a wrong policy): S3 refuses the object, and
    # the archiver hands the event back to its queue (the poller shortens its visibility).
    s3.delete_bucket(Bucket=bucket)
    assert pipeline.archive() == 1
    s3.create_bucket(Bucket=bucket)
    assert archived_everything(world) == []
    time.sleep(1.2)  # the event source's retry visibility
    assert pipeline.archive() == 1
    [event] = archived_everything(world)
    assert event["type"] == ABANDONED
    assert pipeline.archive() == 0


def test_replay_to_a_queue_delivers_exactly_the_ranges_archived_events_with_their_ids(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live = world.consumer_queue()
    carts = [world.shop.storefront_add_to_cart(86, 1) for _ in range(4)]
    world.deliver()
    stage_one, stage_two = later(HOUR + 5), later(DAY + 5)
    world.pipeline.drain(now=stage_one)
    world.pipeline.drain(now=stage_two)
    published = world.received(live)
    assert len(published) == 8
    # Archived whole: byte for byte what the topic delivered.
    assert sorted(json.dumps(e, sort_keys=True) for e in archived_everything(world)) == sorted(
        json.dumps(e, sort_keys=True) for e in published
    )

    # A new consumer's queue, not subscribed to the topic: only the replay reaches it.
    new_consumer = world.pipeline.client("sqs").create_queue(QueueName=unique_name("backfill"))["QueueUrl"]
    code, out, err = cli(
        world,
        tmp_path,
        capsys,
        *("events", "replay", world.store_hash, "--from", str(stage_one - 60), "--to", str(stage_one + 60)),
        *("--to-queue", new_consumer, "--rate", "1000"),
    )
    assert code == 0, err
    assert f"replayed 4 events ({ABANDONED}: 4) from 1 archive objects" in out
    replayed = world.received(new_consumer)
    expected = [e for e in published if e["data"]["stage"] == 1]
    assert sorted(e["id"] for e in replayed) == sorted(e["id"] for e in expected)
    assert sorted(json.dumps(e, sort_keys=True) for e in replayed) == sorted(
        json.dumps(e, sort_keys=True) for e in expected
    )
    # One cart only, dry run: counted, nothing sent.
    code, out, _ = cli(
        world,
        tmp_path,
        capsys,
        *("events", "replay", world.store_hash, "--from", "0", "--to", str(stage_two + 60)),
        *("--cart", carts[0], "--dry-run"),
    )
    assert code == 0 and "would replay 2 events" in out
    assert world.received(new_consumer) == []


def test_replay_to_the_topic_reaches_subscribers_and_is_not_archived_twice(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world.shop.storefront_add_to_cart(86, 1)
    world.deliver()
    world.pipeline.drain(now=later(HOUR + 5))
    before = archived_everything(world)
    subscriber = world.consumer_queue(ABANDONED)
    resume = tmp_path / unique_name("resume")
    args = ("events", "replay", world.store_hash, "--from", "0", "--to", str(later(DAY)), "--to-topic")
    code, out, err = cli(world, tmp_path, capsys, *args, "--resume", str(resume))
    assert code == 0, err
    [event] = world.received(subscriber)
    assert event["id"] == before[0]["id"]
    world.pipeline.drain()
    assert len(archived_everything(world)) == len(before) == 1
    # Resumed after it finished: every object is recorded, nothing is sent again.
    code, out, _ = cli(world, tmp_path, capsys, *args, "--resume", str(resume))
    assert code == 0 and "replayed 0 events" in out and world.received(subscriber) == []


def test_replay_refuses_a_backwards_range_and_a_missing_destination(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(
        world, tmp_path, capsys, "events", "replay", "s1", "--from", "10", "--to", "5", "--dry-run"
    )
    assert code == 1 and err.strip() == "cartwatch: error: --to is before --from"
    code, _, err = cli(world, tmp_path, capsys, "events", "replay", "s1", "--from", "0", "--to", "5")
    assert code == 1 and "--to-queue QUEUE_URL or --to-topic" in err
