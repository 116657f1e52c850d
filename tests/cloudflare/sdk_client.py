"""Drives edgekv's Cloudflare REST API v4 with the official Python SDK (`cloudflare` 5.x), as a
user script would. Run by tests/cloudflare_tools.rs: argv = base_url account_id. Prints one line
per step, `STEP <name> <json>`, which the Rust test asserts; an unexpected exception ends the
script with a traceback and a non-zero exit."""
import json
import sys
import time

import cloudflare

BASE_URL, ACCOUNT = sys.argv[1], sys.argv[2]
SPECIAL = "a+b:c&d;e=f/g%h i?j#k"
UNICODE = "ключ-ü-😀"

# No retries: a server error must show up as itself, not as three slow attempts.
cf = cloudflare.Cloudflare(api_token="edgekv-test-token", base_url=BASE_URL, max_retries=0)
kv = cf.kv.namespaces


def out(step, value):
    print("STEP", step, json.dumps(value, ensure_ascii=False, sort_keys=True), flush=True)


def api_error(e, message=False):
    body = e.body if isinstance(e.body, dict) else None
    errors = (body or {}).get("errors", [])
    out = {"status": e.status_code, "codes": [err.get("code") for err in errors],
           "success": (body or {}).get("success")}
    if message:
        out["messages"] = [err.get("message") for err in errors]
    return out


# Namespaces: create, list (all pages), get, rename, delete.
ns = kv.create(account_id=ACCOUNT, title="py-sessions")
out("create", {"title": ns.title, "id_len": len(ns.id)})
print("NSID", ns.id, flush=True)
tmp = kv.create(account_id=ACCOUNT, title="py-tmp")
try:
    kv.create(account_id=ACCOUNT, title="py-tmp")
    out("create_duplicate", "accepted")
except cloudflare.APIStatusError as e:
    out("create_duplicate", api_error(e))
out("list_titles", [n.title for n in kv.list(account_id=ACCOUNT)])
out("get", kv.get(tmp.id, account_id=ACCOUNT).title)
out("rename", kv.update(tmp.id, account_id=ACCOUNT, title="py-tmp-renamed").title)
out("list_after_rename", sorted(n.title for n in kv.list(account_id=ACCOUNT)))
kv.delete(tmp.id, account_id=ACCOUNT)
out("list_after_delete", [n.title for n in kv.list(account_id=ACCOUNT)])
try:
    kv.delete(tmp.id, account_id=ACCOUNT)
    out("delete_missing", "accepted")
except cloudflare.APIStatusError as e:
    out("delete_missing", api_error(e))

# Paging through namespaces: 25 more, listed 10 per page (the SDK asks page=1, 2, ... until
# a page comes back empty).
many = [kv.create(account_id=ACCOUNT, title=f"py-many-{i:02d}") for i in range(25)]
titles = [n.title for n in kv.list(account_id=ACCOUNT, per_page=10)]
out("list_paged", {"count": len(titles),
                   "many": sorted(t for t in titles if t.startswith("py-many-"))
                   == [f"py-many-{i:02d}" for i in range(25)]})
for n in many:
    kv.delete(n.id, account_id=ACCOUNT)
out("list_after_many", [n.title for n in kv.list(account_id=ACCOUNT)])

NS = ns.id
A = dict(account_id=ACCOUNT, namespace_id=NS)

# Single values: always multipart from this SDK; bytes values (5.9 refuses str).
kv.values.update("sess:1", **A, value=b'{"user":"ada"}', metadata={"user": "ada", "plan": "pro"}, expiration_ttl=600)
kv.values.update(SPECIAL, **A, value=b"special", metadata={"k": 1})
kv.values.update(UNICODE, **A, value="ünïcödé".encode())
kv.values.update("bin", **A, value=b"\x00\xff\x01bin")
exp = int(time.time()) + 7200
kv.values.update("exp", **A, value=b"expiring", expiration=exp)
print("EXP", exp, flush=True)

try:
    kv.values.update("short", **A, value=b"v", expiration_ttl=30)
    out("ttl_too_short", "accepted")
except cloudflare.APIStatusError as e:
    out("ttl_too_short", api_error(e, message=True))
big = bytes(range(256)) * 16384  # 4 MiB, every byte value
kv.values.update("big", **A, value=big, metadata={"size": len(big)})
out("big", {"equal": kv.values.get("big", **A).read() == big, "metadata": kv.metadata.get("big", **A)})
kv.values.delete("big", **A)

r = kv.values.get("sess:1", **A)
out("get_sess", {"value": r.read().decode(), "has_expiration_header": r.headers.get("expiration") is not None})
out("get_exp_header", int(kv.values.get("exp", **A).headers.get("expiration") or 0) == exp)
out("get_special", kv.values.get(SPECIAL, **A).read().decode())
out("get_unicode", kv.values.get(UNICODE, **A).read().decode())
out("get_bin", kv.values.get("bin", **A).read().hex())
try:
    kv.values.get("missing", **A).read()
    out("get_missing", "found")
except cloudflare.APIStatusError as e:
    out("get_missing", api_error(e))
out("metadata_sess", kv.metadata.get("sess:1", **A))
out("metadata_special", kv.metadata.get(SPECIAL, **A))

# Bulk write of 2,500 keys (one request), then list them back with auto-paging.
items = []
for i in range(2500):
    item = {"key": f"flag:{i:04d}", "value": f"v{i}"}
    if i % 500 == 0:
        item["metadata"] = {"i": i}
    if i == 7:
        item["expiration_ttl"] = 900
    items.append(item)
items.append({"key": "b64", "value": "aGVsbG8gd29ybGQ=", "base64": True})
items.append({"key": "cfg", "value": json.dumps({"theme": "dark", "n": 3})})
res = kv.bulk_update(NS, account_id=ACCOUNT, body=items)
out("bulk_update", {"successful_key_count": int(res.successful_key_count), "unsuccessful_keys": res.unsuccessful_keys})

pages = kv.keys.list(NS, account_id=ACCOUNT, prefix="flag:", limit=1000)
first = pages.result
out("list_first_page", {"count": len(first), "first": first[0].name, "last": first[-1].name,
                        "cursor_present": bool(pages.result_info and pages.result_info.cursor)})
names = []
with_meta = {}
with_exp = []
for k in kv.keys.list(NS, account_id=ACCOUNT, prefix="flag:", limit=1000):
    names.append(k.name)
    if k.metadata is not None:
        with_meta[k.name] = k.metadata
    if k.expiration is not None:
        with_exp.append(k.name)
out("list_all", {"count": len(names), "sorted_unique": names == sorted(set(names)),
                 "first": names[0], "last": names[-1], "metadata": with_meta, "expiring": with_exp})
out("list_default_limit", len(list(kv.keys.list(NS, account_id=ACCOUNT, prefix="flag:"))))
out("list_special", [k.name for k in kv.keys.list(NS, account_id=ACCOUNT, prefix="a+b:c&d;e=f/g%h i")])
out("list_unicode", [k.name for k in kv.keys.list(NS, account_id=ACCOUNT, prefix="ключ")])

bg = kv.bulk_get(NS, account_id=ACCOUNT, keys=["flag:0001", "flag:2499", "missing", SPECIAL, "b64"])
out("bulk_get", bg.values)
bg = kv.bulk_get(NS, account_id=ACCOUNT, keys=["cfg", "missing"], type="json")
out("bulk_get_json", bg.values)
bg = kv.bulk_get(NS, account_id=ACCOUNT, keys=["flag:0500", "flag:0501", "missing"], with_metadata=True)
out("bulk_get_metadata", {k: (None if v is None else {"value": v.value, "metadata": v.metadata})
                          for k, v in bg.values.items()})

res = kv.bulk_delete(NS, account_id=ACCOUNT, body=[f"flag:{i:04d}" for i in range(2500)] + ["missing"])
out("bulk_delete", {"successful_key_count": int(res.successful_key_count), "unsuccessful_keys": res.unsuccessful_keys})
kv.values.delete("bin", **A)
kv.values.delete(UNICODE, **A)
out("remaining", [k.name for k in kv.keys.list(NS, account_id=ACCOUNT)])
print("DONE", flush=True)
