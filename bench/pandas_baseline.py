#!/usr/bin/python3
"""The seeds' approach: pandas over the NDJSON file, computing the daily store
KPIs (revenue, orders, units) of examples/pos-analytics.yaml's store_day rule.
Prints the events per second, load and parse included, as its first line."""
import sys
import time

import pandas as pd

started = time.perf_counter()
orders = pd.read_json(sys.argv[1], lines=True, dtype=False)
orders = orders[orders["store_id"].notna()]
lines = orders[["order_id", "ts", "store_id", "status", "lines"]].explode("lines")
lines = lines[lines["lines"].notna()]
detail = pd.json_normalize(lines["lines"].tolist())
lines = lines.reset_index(drop=True)
lines["qty"] = pd.to_numeric(detail["qty"], errors="coerce")
lines["cents"] = (pd.to_numeric(detail["unit_price"], errors="coerce") * 100).round()
sign = lines["status"].map({"completed": 1, "refunded": -1}).fillna(0)
lines["revenue_cents"] = sign * lines["qty"] * lines["cents"]
lines["units"] = sign * lines["qty"]
lines["day"] = pd.to_datetime(lines["ts"], unit="ms", utc=True, errors="coerce").dt.floor("D")
kpis = lines.groupby(["store_id", "day"]).agg(
    revenue_cents=("revenue_cents", "sum"), units=("units", "sum"),
    orders=("order_id", "nunique"))
seconds = time.perf_counter() - started
print(f"{len(orders) / seconds:.0f}")
print(f"{len(kpis)} store-days in {seconds:.2f} s", file=sys.stderr)
