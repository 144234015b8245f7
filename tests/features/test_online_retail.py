"""Features on the real Online Retail data: no events, answers, channels or promotions."""

from __future__ import annotations

import pytest

from segmint.features import catalog_for, load_features, snapshot


@pytest.mark.slow
def test_online_retail_snapshot(ws, shared_data):
    ws.ingest("orders", shared_data / "online_retail.csv.gz", preset="online-retail")
    info = snapshot(ws.store)
    assert info["as_of"] == "2011-12-10"  # the last invoice is on 2011-12-09
    assert 4300 <= info["customers"] <= 4372  # customers with a CustomerID (4,372 in the file)
    assert {"engagement", "survey"} <= set(info["skipped"])
    features = set(info["features"])
    assert not features & {"email_open_rate", "promo_share", "top_category"}
    assert not any(f.startswith(("channel_share_", "category_share_")) for f in features)
    assert {"recency_days", "return_share", "country", "r_score", "expected_purchases_90d",
            "probability_alive", "predicted_clv_12m"} <= features
    table = load_features(ws.store)
    catalog_for(table)  # every column documented
    df = table.to_pyarrow().to_pandas()
    buyers = df[df.frequency > 0]
    assert buyers.probability_alive.between(0, 1).all() and (buyers.recency_days > 0).all()
    assert set(buyers.r_score) == {1, 2, 3, 4, 5} and buyers.rfm_score.str.len().eq(3).all()
    assert df.return_share.between(0, 1).all()
