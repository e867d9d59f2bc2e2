"""Turns one curl response into a transcript line (the same fields the SDK flows print).

    python3 transcript.py STEP HTTP_STATUS BODY_FILE      -> prints one JSON line
    python3 transcript.py --id BODY_FILE                  -> prints the body's "id"
    python3 transcript.py --last-id BODY_FILE             -> prints the id of the last item of a list

Never prints client secrets (real while recording, redacted in replay).
"""

import json
import sys


def intent_fields(pi: dict) -> dict:
    shipping = pi.get("shipping") or None
    return {
        "id": pi.get("id"),
        "object": pi.get("object"),
        "status": pi.get("status"),
        "amount": pi.get("amount"),
        "amount_capturable": pi.get("amount_capturable"),
        "amount_received": pi.get("amount_received"),
        "currency": pi.get("currency"),
        "capture_method": pi.get("capture_method"),
        "description": pi.get("description"),
        "metadata": pi.get("metadata") or {},
        "shipping_name": shipping["name"] if shipping else None,
        "shipping_city": shipping["address"]["city"] if shipping else None,
        "payment_method_types": pi.get("payment_method_types"),
        "payment_method": pi.get("payment_method"),
        "cancellation_reason": pi.get("cancellation_reason"),
        "has_client_secret": bool(pi.get("client_secret")),
    }


def line(step: str, status: int, body: dict) -> dict:
    out = {"step": step, "http_status": status}
    if "error" in body:
        err = body["error"]
        out.update(
            type=err.get("type"),
            code=err.get("code"),
            param=err.get("param"),
            message=err.get("message"),
        )
    elif body.get("object") in ("list", "search_result"):
        out.update(
            ids=[p["id"] for p in body["data"]],
            statuses=[p["status"] for p in body["data"]],
            has_more=body["has_more"],
        )
    else:
        out.update(intent_fields(body))
    return out


def main() -> int:
    if sys.argv[1] == "--id":
        print(json.load(open(sys.argv[2]))["id"])
    elif sys.argv[1] == "--last-id":
        print(json.load(open(sys.argv[2]))["data"][-1]["id"])
    else:
        step, status, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
        with open(path) as f:
            body = json.load(f)
        print(json.dumps(line(step, status, body)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
