"""Delivery streams on the real database: event order, no duplicates, and no write through a stale read."""

from __future__ import annotations

import threading

from pymongo import MongoClient

from tmf_common.delivery import DeliveryStreams, StreamEntry
from tmf_common.write_guard import guard_for

DATABASE = "tmf_delivery_streams_test"


def _streams(client: MongoClient) -> DeliveryStreams:  # type: ignore[type-arg]
    client.drop_database(DATABASE)
    database = client[DATABASE]
    return DeliveryStreams(database, guard_for(database))


def test_entries_come_out_in_event_order_without_duplicates(mongo_client) -> None:
    streams = _streams(mongo_client)
    streams.add("sub|po/1", [StreamEntry("d3", 3, 0), StreamEntry("d1", 1, 0)])
    streams.add_all({"sub|po/1": [StreamEntry("d2", 2, 1), StreamEntry("d1", 1, 0)]})
    order = []
    while (head := streams.head("sub|po/1")) is not None:
        order.append(head.delivery_id)
        streams.remove("sub|po/1", head.delivery_id)
    assert order == ["d1", "d2", "d3"]
    assert streams.all() == []  # an emptied stream is deleted


def test_a_writer_that_read_a_deleted_stream_cannot_overwrite_its_successor(mongo_client) -> None:
    streams = _streams(mongo_client)
    streams.add("sub|po/2", [StreamEntry("old", 1, 0)])
    stale = streams.collection.find_one({"_id": "sub|po/2"})
    streams.remove("sub|po/2", "old")  # deleted
    streams.add("sub|po/2", [StreamEntry("new", 2, 0)])  # created again, at revision 1 again
    assert stale is not None and streams._write("sub|po/2", stale, []) is False
    head = streams.head("sub|po/2")
    assert head is not None and head.delivery_id == "new"


def test_concurrent_additions_to_one_stream_lose_nothing(mongo_client) -> None:
    streams = _streams(mongo_client)
    barrier = threading.Barrier(8)

    def add(number: int) -> None:
        barrier.wait()
        streams.add("sub|po/3", [StreamEntry(f"d{number}", number, 0)])

    threads = [threading.Thread(target=add, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    document = streams.collection.find_one({"_id": "sub|po/3"})
    assert document is not None
    assert [entry["id"] for entry in document["open"]] == [f"d{number}" for number in range(8)]
