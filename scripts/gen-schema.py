#!/usr/bin/env python3
"""Generate schema/stripe-payment-intents.json, the request-parameter schema that
stripe-vcr validates Payment Intents requests against.

Usage (from the repository root):

    python3 scripts/gen-schema.py [--reference PATH] > schema/stripe-payment-intents.json

PATH defaults to ../shared/reference/payment_intents_params.json relative to the
repository root (the directory above this script), so the default works from any
working directory; an explicit --reference is taken relative to the current directory.

The input is the parameter tree described in stripe-api-facts.md section 1.1. The output
format is described in schema/README.md. Output is deterministic: object keys are sorted,
enums and type lists are sorted, 2-space indent, one trailing newline. Nothing is printed
unless every check passes, so a failed run never emits a partial schema (but note that the
shell redirection has already truncated the target file by then).

Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import re
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_REFERENCE = os.path.join(
    REPO_ROOT, "..", "shared", "reference", "payment_intents_params.json"
)

SCHEMA_VERSION = 1
SCHEMA_NAME = "Stripe Payment Intents API"

# Endpoint key in the schema -> (method, path). The reference file keys its endpoints as
# "METHOD /v1/path"; every one of these must be present there, and nothing else.
ENDPOINTS = {
    "list": ("GET", "/v1/payment_intents"),
    "create": ("POST", "/v1/payment_intents"),
    "search": ("GET", "/v1/payment_intents/search"),
    "retrieve": ("GET", "/v1/payment_intents/{intent}"),
    "update": ("POST", "/v1/payment_intents/{intent}"),
    "list_amount_details_line_items": (
        "GET",
        "/v1/payment_intents/{intent}/amount_details_line_items",
    ),
    "apply_customer_balance": (
        "POST",
        "/v1/payment_intents/{intent}/apply_customer_balance",
    ),
    "cancel": ("POST", "/v1/payment_intents/{intent}/cancel"),
    "capture": ("POST", "/v1/payment_intents/{intent}/capture"),
    "confirm": ("POST", "/v1/payment_intents/{intent}/confirm"),
    "increment_authorization": (
        "POST",
        "/v1/payment_intents/{intent}/increment_authorization",
    ),
    "verify_microdeposits": (
        "POST",
        "/v1/payment_intents/{intent}/verify_microdeposits",
    ),
}

# Full commit ids of the upstream sources (stripe-api-facts.md section 0.1). The reference's
# _meta carries 12-character prefixes; they are checked against these so that a reference
# regenerated from other sources fails loudly instead of getting stale provenance.
PYTHON_PARAMS = ("stripe/stripe-python", "6c6e3736d16dde7a2f0155379ea3cd99b976460b", "stripe/params")
SPEC_2022 = ("stripe/openapi", "e0123a38b40c8d840b4c0469ac0ee1650b6bfea3", "openapi/spec3.json")
SPEC_V2349 = "af5309cae53e5f666f9686dfed306d6d3b5fdc67"

# Seed-documented parameters. Source: the English API page our product is built around,
# /work/shared/seeds/003_c6ee5c632c2d533d.txt ("Payment Intent API Functions"; seeds 000 and
# 001 are the same page in Chinese and Japanese). Its parameter tables list these names and
# types; "(Required)" in the table is recorded as required=True. "expand[]" / "array of
# strings" is the array parameter `expand` whose elements are strings.
#   (endpoint, name, type, element type for arrays or None, required)
SEED_PARAMS = [
    ("list", "limit", "integer", None, False),
    ("list", "starting_after", "string", None, False),
    ("list", "ending_before", "string", None, False),
    ("list", "expand", "array", "string", False),
    ("create", "amount", "integer", None, True),
    ("create", "currency", "string", None, True),
    ("create", "confirm", "boolean", None, False),
    ("create", "customer", "string", None, False),
    ("create", "description", "string", None, False),
    ("create", "payment_method", "string", None, False),
    ("create", "payment_method_types", "array", "string", False),
    ("create", "shipping", "object", None, False),
    ("create", "statement_descriptor", "string", None, False),
    ("create", "statement_descriptor_suffix", "string", None, False),
    ("create", "expand", "array", "string", False),
    ("search", "expand", "array", "string", False),
    ("search", "limit", "integer", None, False),
    ("search", "page", "string", None, False),
    ("search", "query", "string", None, True),
]

# Server-side integer bounds that the spec does not express (stripe-api-facts.md section 1
# "Numeric limits are server-side rules", section 3.2, section 6; the seed page states the
# 1..100 range of limit and the create page (seed 002) the eight-digit maximum of amount).
AMOUNT_BOUNDS = {"min": 1, "max": 99999999}
AMOUNT_ENDPOINTS = ["create", "update", "increment_authorization"]
LIMIT_BOUNDS = {"min": 1, "max": 100}
LIMIT_ENDPOINTS = ["list", "search", "list_amount_details_line_items"]

# Confirm-API parameters that create accepts only together with confirm=true (seed pages:
# "You may use any parameters available in the confirm API when confirm=true is supplied").
ONLY_WITH_CONFIRM = [
    "confirmation_token",
    "error_on_requires_action",
    "mandate",
    "mandate_data",
    "off_session",
    "return_url",
    "use_stripe_sdk",
]

# Cross-parameter rules. Cursors: stripe-api-facts.md section 6 ("they are mutually
# exclusive"). create: section 3.2, "You may only specify one of these parameters:
# automatic_payment_methods, confirmation_method."
RULES = {
    "list": [{"exclusive": ["ending_before", "starting_after"]}],
    "list_amount_details_line_items": [{"exclusive": ["ending_before", "starting_after"]}],
    "create": [{"exclusive": ["automatic_payment_methods", "confirmation_method"]}],
}

# Stripe's supported presentment currencies (Stripe's supported currencies page, as known
# in 2026; may drift).
CURRENCIES = """
usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd
bwp byn bzd cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp
gel gip gmd gnf gtq gyd hkd hnl htg huf idr ils inr isk jmd jod jpy kes kgs khr kmf krw
kwd kyd kzt lak lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn nad
ngn nio nok npr nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek
sgd shp sle sos srd std szl thb tjs top try ttd twd tzs uah ugx uyu uzs vnd vuv wst xaf
xcd xof xpf yer zar zmw
""".split()

SCALAR_TYPES = {"string", "integer", "boolean", "number"}
PARAM_TYPES = SCALAR_TYPES | {"object", "hash", "array"}
PARAM_KEYS = {
    "type", "types", "required", "enum", "enum_open", "max_length", "emptyable", "format",
    "min", "max", "items", "children", "open", "only_with_confirm", "not_in_sdk", "note",
    "deprecated",
}
# Keys of a reference node (stripe-api-facts.md section 1.1).
REFERENCE_KEYS = {
    "type", "required", "enum", "emptyable", "maxLength", "format", "items",
    "additionalProperties", "enum_not_enforced", "not_in_sdk", "note", "children",
    "children_truncated",
}
# Reference formats that are not carried over: the schema contract only knows "currency".
# "unix-time" (mandate_data.customer_acceptance.accepted_at, konbini.expires_at) is an
# integer anyway, which the "type" already says.
DROPPED_FORMATS = {"unix-time"}


class SchemaError(Exception):
    pass


def fail(msg: str) -> None:
    raise SchemaError(msg)


def check_scalar_type(t: object, where: str) -> str:
    if t not in SCALAR_TYPES | {"object", "array"}:
        fail(f"{where}: unknown reference type {t!r}")
    return t  # type: ignore[return-value]


def convert_element(node: dict, where: str) -> dict:
    """Element (items) Param of a reference array node: element type, plus the
    enum/maxLength/children that describe elements."""
    etype = node.get("items")
    if not isinstance(etype, str):
        fail(f"{where}: array without a string 'items' element type: {etype!r}")
    check_scalar_type(etype, where + "[]")
    if etype == "array":
        fail(f"{where}: arrays of arrays are not supported")
    el: dict = {"type": etype}
    apply_enum(el, node, where)
    if "maxLength" in node:
        if etype != "string":
            fail(f"{where}: maxLength on array of {etype}")
        el["max_length"] = node["maxLength"]
    if etype == "object":
        apply_object_body(el, node, where + "[]")
    elif "children" in node or node.get("children_truncated"):
        fail(f"{where}: children on array of {etype}")
    return el


def apply_enum(out: dict, node: dict, where: str) -> None:
    if "enum" in node:
        values = node["enum"]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            fail(f"{where}: enum must be a list of strings")
        if len(set(values)) != len(values):
            fail(f"{where}: duplicate enum values")
        out["enum"] = sorted(values)
        if node.get("enum_not_enforced"):
            out["enum_open"] = True
    elif node.get("enum_not_enforced"):
        fail(f"{where}: enum_not_enforced without enum")


def apply_object_body(out: dict, node: dict, where: str) -> None:
    """children / open of an object-shaped Param."""
    if "additionalProperties" in node:
        fail(f"{where}: additionalProperties on a node that is not a plain hash")
    if node.get("children_truncated"):
        if node.get("children"):
            fail(f"{where}: both children and children_truncated")
        out["open"] = True
    else:
        children = node.get("children")
        if not isinstance(children, dict):
            fail(f"{where}: object without children and not truncated")
        # Emitted even when empty: "an object with children: {} stays an object with
        # empty children" (no key is accepted below it).
        out["children"] = {
            name: convert(child, f"{where}.{name}")
            for name, child in sorted(children.items())
        }


def convert(node: dict, where: str) -> dict:
    """Reference node -> schema Param."""
    if not isinstance(node, dict):
        fail(f"{where}: node is not an object")
    unknown = set(node) - REFERENCE_KEYS
    if unknown:
        fail(f"{where}: unknown reference keys {sorted(unknown)}")
    out: dict = {}
    t = node.get("type")

    if isinstance(t, list):
        types = sorted(check_scalar_type(x, where) for x in t)
        if len(set(types)) != len(types) or len(types) < 2 or "array" in types:
            fail(f"{where}: unsupported type list {t!r}")
        out["types"] = types
        apply_enum(out, node, where)
        if "maxLength" in node:
            if "string" not in types:
                fail(f"{where}: maxLength without a string alternative")
            out["max_length"] = node["maxLength"]
        if "object" in types:
            apply_object_body(out, node, where)
        elif "children" in node or node.get("children_truncated"):
            fail(f"{where}: children without an object alternative")
        if "items" in node:
            fail(f"{where}: items on a non-array node")
    elif t == "object" and "additionalProperties" in node:
        if node["additionalProperties"] != "string":
            fail(f"{where}: additionalProperties {node['additionalProperties']!r} unsupported")
        if node.get("children") or node.get("children_truncated") or "enum" in node:
            fail(f"{where}: hash with children or enum")
        out["type"] = "hash"
    elif t == "object":
        out["type"] = "object"
        if "enum" in node or "maxLength" in node or "items" in node:
            fail(f"{where}: enum/maxLength/items on an object")
        apply_object_body(out, node, where)
    elif t == "array":
        out["type"] = "array"
        out["items"] = convert_element(node, where)
    else:
        check_scalar_type(t, where)
        out["type"] = t
        apply_enum(out, node, where)
        if "maxLength" in node:
            if t != "string":
                fail(f"{where}: maxLength on {t}")
            out["max_length"] = node["maxLength"]
        if "children" in node or node.get("children_truncated") or "items" in node:
            fail(f"{where}: children/items on {t}")

    req = node.get("required", False)
    if not isinstance(req, bool):
        fail(f"{where}: required is not a boolean")
    if req:
        out["required"] = True
    if node.get("emptyable"):
        out["emptyable"] = True
    fmt = node.get("format")
    if fmt is not None:
        if fmt == "currency":
            if t != "string":
                fail(f"{where}: format currency on {t!r}")
            out["format"] = "currency"
        elif fmt not in DROPPED_FORMATS:
            fail(f"{where}: unknown format {fmt!r}")
    if node.get("not_in_sdk"):
        out["not_in_sdk"] = True
    if "note" in node:
        if not isinstance(node["note"], str):
            fail(f"{where}: note is not a string")
        out["note"] = node["note"]
    return out


def check_meta(meta: dict) -> None:
    for key, (repo, commit, path) in (("python_params", PYTHON_PARAMS), ("spec", SPEC_2022)):
        m = re.fullmatch(r"([^@]+)@([0-9a-f]{7,40}):(.+)", str(meta.get(key, "")))
        if not m or m.group(1) != repo or not commit.startswith(m.group(2)) or m.group(3) != path:
            fail(
                f"reference _meta.{key} = {meta.get(key)!r} does not match the known source "
                f"{repo}@{commit}:{path}; review provenance in scripts/gen-schema.py and "
                "schema/README.md"
            )
    if meta.get("depth") != 3:
        fail(f"reference _meta.depth = {meta.get('depth')!r}, expected 3; review schema/README.md")


def provenance(meta: dict, ref_sha256: str) -> list[str]:
    return [
        f"structure (names, types, required, enums, \"\" allowed): "
        f"{PYTHON_PARAMS[0]}@{PYTHON_PARAMS[1]}:{PYTHON_PARAMS[2]} "
        "(stripe-python 15.3.1, SDK spec v2324)",
        f"max_length and format for parameters that existed in 2022: "
        f"{SPEC_2022[0]}@{SPEC_2022[1]}:{SPEC_2022[2]} "
        f"(2022-04-12, tag v127, API {meta.get('spec_api_version')})",
        f"hand-checked supplement ({meta.get('constraints_applied')} entries: "
        "allowed_payment_method_types, newer max_length, format currency, enum_open): "
        f"stripe/openapi@{SPEC_V2349}:openapi/spec3.json (2026-07-29, tag v2349)",
        "allowed_payment_method_types on update/confirm: "
        f"stripe/openapi@{SPEC_V2349}:openapi/upcoming-changes/rest.md",
        "merged parameter tree: shared/reference/payment_intents_params.json "
        f"(sha256 {ref_sha256}, _meta.mode {meta.get('mode')}, depth {meta.get('depth')}); "
        "format in shared/reference/stripe-api-facts.md section 1.1",
        "seed-documented parameters checked against: "
        "shared/seeds/003_c6ee5c632c2d533d.txt (English API page; 000/001 are the same page "
        "in Chinese/Japanese)",
        "server-side bounds (amount 1..99999999, limit 1..100), only_with_confirm and "
        "exclusive rules: shared/reference/stripe-api-facts.md sections 1, 3.2, 6 and the "
        "seed pages",
        "currencies: Stripe's supported currencies page, as known in 2026; may drift",
    ]


def build(reference: dict, ref_sha256: str) -> dict:
    meta = reference.get("_meta")
    if not isinstance(meta, dict):
        fail("reference has no _meta")
    check_meta(meta)

    expected = {f"{m} {p}": name for name, (m, p) in ENDPOINTS.items()}
    got = set(reference) - {"_meta"}
    if got != set(expected):
        fail(
            "reference endpoints differ from the 12 known ones: missing "
            f"{sorted(set(expected) - got)}, unexpected {sorted(got - set(expected))}"
        )

    endpoints: dict = {}
    for ref_key, name in expected.items():
        method, path = ENDPOINTS[name]
        params = reference[ref_key]
        if not isinstance(params, dict):
            fail(f"{ref_key}: parameters are not an object")
        endpoints[name] = {
            "method": method,
            "path": path,
            "params": {p: convert(n, f"{name}.{p}") for p, n in sorted(params.items())},
            "rules": [],
        }

    for name in AMOUNT_ENDPOINTS:
        param = endpoints[name]["params"].get("amount")
        if not param or param.get("type") != "integer":
            fail(f"{name}.amount missing or not an integer; cannot add bounds")
        param.update(AMOUNT_BOUNDS)
    for name in LIMIT_ENDPOINTS:
        param = endpoints[name]["params"].get("limit")
        if not param or param.get("type") != "integer":
            fail(f"{name}.limit missing or not an integer; cannot add bounds")
        param.update(LIMIT_BOUNDS)

    create = endpoints["create"]["params"]
    for p in ONLY_WITH_CONFIRM:
        if p not in create:
            print(f"gen-schema: note: {p} not on create; only_with_confirm not set", file=sys.stderr)
            continue
        if p not in endpoints["confirm"]["params"]:
            fail(f"create.{p} is marked only_with_confirm but is not a confirm parameter")
        create[p]["only_with_confirm"] = True

    for name, rules in RULES.items():
        for rule in rules:
            names = sorted(rule["exclusive"])
            for p in names:
                if p not in endpoints[name]["params"]:
                    fail(f"rule on {name} names unknown parameter {p}")
            endpoints[name]["rules"].append({"exclusive": names})

    currencies = sorted(set(CURRENCIES))
    if len(currencies) != len(CURRENCIES) or not all(re.fullmatch(r"[a-z]{3}", c) for c in currencies):
        fail("currency list has duplicates or codes that are not three lower-case letters")

    return {
        "schema_version": SCHEMA_VERSION,
        "name": SCHEMA_NAME,
        "provenance": provenance(meta, ref_sha256),
        "currencies": {"case": "any", "supported": currencies},
        "endpoints": endpoints,
    }


def check_seed(schema: dict) -> list[str]:
    problems = []
    for endpoint, name, typ, element, required in SEED_PARAMS:
        param = schema["endpoints"][endpoint]["params"].get(name)
        label = f"{endpoint}.{name}"
        if param is None:
            problems.append(f"{label}: documented in the seed page but missing from the schema")
            continue
        got = param.get("type", param.get("types"))
        if got != typ:
            problems.append(f"{label}: seed page says {typ}, schema has {got!r}")
            continue
        if element is not None and param["items"].get("type") != element:
            problems.append(
                f"{label}: seed page says array of {element}, schema has array of "
                f"{param['items'].get('type')!r}"
            )
        if param.get("required", False) != required:
            problems.append(
                f"{label}: seed page says required={required}, schema has "
                f"required={param.get('required', False)}"
            )
    return problems


def check_contract(param: dict, where: str) -> None:
    """Every emitted Param uses only contract keys and consistent shapes."""
    assert set(param) <= PARAM_KEYS, (where, set(param) - PARAM_KEYS)
    assert ("type" in param) != ("types" in param), where
    if "type" in param:
        t = param["type"]
        assert t in PARAM_TYPES, (where, t)
        assert ("items" in param) == (t == "array"), where
        if t == "object":
            assert ("children" in param) != ("open" in param), where
        else:
            assert "children" not in param and "open" not in param, where
    else:
        assert all(x in PARAM_TYPES - {"hash", "array"} for x in param["types"]), where
        assert param["types"] == sorted(param["types"]), where
    for flag in ("required", "enum_open", "emptyable", "open", "only_with_confirm", "not_in_sdk", "deprecated"):
        assert param.get(flag, True) is True, (where, flag)
    if "enum" in param:
        assert param["enum"] == sorted(param["enum"]), where
    assert "enum_open" not in param or "enum" in param, where
    assert param.get("format", "currency") == "currency", where
    for child, sub in param.get("children", {}).items():
        check_contract(sub, f"{where}.{child}")
    if "items" in param:
        assert "required" not in param["items"], where
        check_contract(param["items"], where + "[]")


def sanity_checks(schema: dict) -> None:
    eps = schema["endpoints"]
    assert set(eps) == set(ENDPOINTS), sorted(eps)
    for name, ep in eps.items():
        assert (ep["method"], ep["path"]) == ENDPOINTS[name], name
        assert ep["params"], f"{name} has no params"
        for p, param in ep["params"].items():
            check_contract(param, f"{name}.{p}")
        expand = ep["params"].get("expand")
        assert expand is not None and expand["type"] == "array", f"{name}.expand"
        assert expand["items"]["type"] == "string", f"{name}.expand"

    c = eps["create"]["params"]
    assert c["amount"] == {"type": "integer", "required": True, "min": 1, "max": 99999999}, c["amount"]
    assert c["currency"]["type"] == "string" and c["currency"]["required"] is True
    assert c["currency"]["format"] == "currency"
    assert c["shipping"]["children"]["address"]["type"] == "object"
    assert c["shipping"]["children"]["address"]["required"] is True
    assert c["shipping"]["children"]["name"]["required"] is True
    assert c["metadata"] == {"type": "hash"}, c["metadata"]
    assert eps["update"]["params"]["metadata"] == {"type": "hash", "emptyable": True}
    assert c["off_session"]["types"] == ["boolean", "string"]
    assert c["off_session"]["enum"] == ["one_off", "recurring"]
    assert c["off_session"]["only_with_confirm"] is True
    assert "only_with_confirm" not in c["confirm"] and "only_with_confirm" not in c["amount"]
    assert sum(1 for p in c.values() if p.get("only_with_confirm")) == len(ONLY_WITH_CONFIRM)
    for ep in eps.values():
        if ep is not eps["create"]:
            assert not any(p.get("only_with_confirm") for p in ep["params"].values())
    assert c["allowed_payment_method_types"]["items"]["enum_open"] is True
    assert c["mandate_data"]["children"]["customer_acceptance"]["children"]["offline"] == {
        "type": "object", "children": {}}
    assert c["mandate_data"]["children"]["customer_acceptance"]["children"]["online"] == {
        "type": "object", "open": True}
    li = c["amount_details"]["children"]["line_items"]
    assert li["type"] == "array" and li["emptyable"] is True and li["items"]["type"] == "object"
    assert li["items"]["children"]["product_name"] == {"type": "string", "required": True, "max_length": 1024}
    assert eps["retrieve"]["params"].keys() == {"client_secret", "expand"}

    created = eps["list"]["params"]["created"]
    assert created["types"] == ["integer", "object"], created
    assert set(created["children"]) == {"gt", "gte", "lt", "lte"}
    assert all(v == {"type": "integer"} for v in created["children"].values())
    for name in LIMIT_ENDPOINTS:
        assert eps[name]["params"]["limit"] == {"type": "integer", "min": 1, "max": 100}, name
    for name in AMOUNT_ENDPOINTS:
        amount = eps[name]["params"]["amount"]
        assert amount["min"] == 1 and amount["max"] == 99999999, name
    assert eps["increment_authorization"]["params"]["amount"]["required"] is True
    assert "required" not in eps["update"]["params"]["amount"]
    assert eps["search"]["params"]["query"]["required"] is True
    assert eps["confirm"]["params"]["client_secret"]["not_in_sdk"] is True
    assert eps["cancel"]["params"]["cancellation_reason"]["enum_open"] is True
    assert eps["verify_microdeposits"]["params"]["amounts"] == {"type": "array", "items": {"type": "integer"}}
    assert eps["list"]["rules"] == [{"exclusive": ["ending_before", "starting_after"]}]
    assert eps["create"]["rules"] == [{"exclusive": ["automatic_payment_methods", "confirmation_method"]}]
    assert all(not eps[n]["rules"] for n in eps if n not in RULES)
    sup = schema["currencies"]["supported"]
    assert "usd" in sup and "eur" in sup and "jpy" in sup and len(sup) == 138, len(sup)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description="Generate schema/stripe-payment-intents.json from the reference parameter tree."
    )
    parser.add_argument(
        "--reference",
        default=DEFAULT_REFERENCE,
        help="payment_intents_params.json (default: ../shared/reference/payment_intents_params.json "
        "relative to the repository root)",
    )
    args = parser.parse_args(argv)

    try:
        with open(args.reference, "rb") as f:
            raw = f.read()
    except OSError as e:
        print(f"gen-schema: cannot read reference {args.reference}: {e}", file=sys.stderr)
        return 2
    try:
        reference = json.loads(raw)
    except ValueError as e:
        print(f"gen-schema: {args.reference} is not valid JSON: {e}", file=sys.stderr)
        return 2

    try:
        schema = build(copy.deepcopy(reference), hashlib.sha256(raw).hexdigest())
    except SchemaError as e:
        print(f"gen-schema: error: {e}", file=sys.stderr)
        return 1

    problems = check_seed(schema)
    if problems:
        print(
            "gen-schema: error: seed-documented parameters "
            "(shared/seeds/003_c6ee5c632c2d533d.txt) do not match the schema:",
            file=sys.stderr,
        )
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1

    try:
        sanity_checks(schema)
    except AssertionError as e:
        print(f"gen-schema: error: sanity check failed: {e!r}", file=sys.stderr)
        return 1

    text = json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    sys.stdout.buffer.write(text.encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
