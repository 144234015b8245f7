"""Erasure tells every destination that received the person, and leaves their id in no delivery (issue 18, 20)."""

from __future__ import annotations

import json

from werkzeug import Response

from tests.activate.conftest import write


def test_forget_tells_the_destinations_that_received_the_person(shop, receiver, clock):
    write(shop, "value", 1, {"C00": "VIP", "C01": "VIP", "C02": "New"})
    shop.activation.add({"name": "crm", "kind": "webhook", "url": receiver.url, "segmentations": ["value"]})
    shop.activation.add({"name": "drop", "kind": "files", "path": "out", "segmentations": ["value"]})
    shop.activation.add({"name": "later", "kind": "webhook", "url": receiver.url, "segmentations": ["value"]})
    shop.sync("crm", clock=clock)
    shop.sync("drop", clock=clock)  # "later" never synced: it never received anyone
    receipt = shop.forget(["C00"])
    told = {d["destination"]: d for d in receipt.destinations}
    assert set(told) == {"crm", "drop"} and all(d["told"] for d in told.values())
    last = json.loads(receiver.got[-1][1])
    assert last["data"]["kind"] == "erasure"
    assert [(c["customer_id"], c["segment"], c["change"]) for c in last["data"]["changes"]] == [("C00", "VIP",
                                                                                                 "deleted")]
    # nothing in the store names them any more: not the outbox, not a delivered payload
    store = shop.store
    assert "C00" not in json.dumps(store.table("deliveries").to_pyarrow().to_pylist(), default=str)
    assert store.table("outbox").filter(lambda t: t.customer_id == "C00").count().execute() == 0


def test_an_unreachable_destination_is_reported_not_told(shop, receiver, clock):
    write(shop, "value", 1, {"C00": "VIP", "C01": "VIP"})
    shop.activation.add({"name": "crm", "kind": "webhook", "url": receiver.url, "segmentations": ["value"]})
    shop.sync("crm", clock=clock)
    receiver.answers = [Response("down", 503)]
    receipt = shop.forget(["C01"])
    [d] = receipt.destinations
    assert d["destination"] == "crm" and d["told"] is False and "503" in d["how"]
