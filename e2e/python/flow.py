"""The e2e application flow for stripe-python (15.3.1), run through stripe-vcr.

    flow.py --mode base-url|proxy --port PORT --ca CA_PEM [--key sk_test_...]

Prints a normalised transcript, one JSON object per line, that must be the same
when recording (through stripe-vcr to the stand-in upstream) and when replaying.
Client secrets are never printed: they are real while recording and redacted
in replay.
"""

import argparse
import json
import sys

import stripe

ORDER = "e2e-py-1001"
SECOND_ORDER = "e2e-py-1002"
RETRY_ORDER = "e2e-py-1003"
CHECKOUT_ORDER = "e2e-py-2001"


def make_client(mode: str, port: int, ca: str, key: str) -> stripe.StripeClient:
    # stripe-python verifies TLS against this file only (its requests-based
    # client ignores SSL_CERT_FILE and REQUESTS_CA_BUNDLE).
    stripe.ca_bundle_path = ca
    if mode == "base-url":
        return stripe.StripeClient(
            key,
            base_addresses={"api": f"https://127.0.0.1:{port}"},
            max_network_retries=2,
        )
    if mode == "proxy":
        # The API host stays https://api.stripe.com; the proxy terminates TLS
        # for it with a certificate from its own CA.
        return stripe.StripeClient(
            key,
            proxy=f"http://127.0.0.1:{port}",
            max_network_retries=2,
        )
    raise SystemExit(f"unknown mode {mode!r}")


def emit(step: str, **fields) -> None:
    print(json.dumps({"step": step, **fields}, sort_keys=False), flush=True)


def intent_fields(pi) -> dict:
    return {
        "id": pi.id,
        "object": pi.object,
        "status": pi.status,
        "amount": pi.amount,
        "amount_capturable": pi.amount_capturable,
        "amount_received": pi.amount_received,
        "currency": pi.currency,
        "capture_method": pi.capture_method,
        "description": pi.description,
        "metadata": pi.metadata.to_dict() if pi.metadata else {},
        "shipping_name": pi.shipping.name if pi.shipping else None,
        "shipping_city": pi.shipping.address.city if pi.shipping else None,
        "payment_method_types": list(pi.payment_method_types or []),
        "payment_method": pi.payment_method,
        "cancellation_reason": pi.cancellation_reason,
        "has_client_secret": bool(pi.client_secret),
    }


def checkout_intent_fields(pi) -> dict:
    return {
        **intent_fields(pi),
        "customer": pi.customer,
        "setup_future_usage": pi.setup_future_usage,
        "latest_charge": pi.latest_charge,
    }


def customer_fields(customer) -> dict:
    return {
        "id": customer.id,
        "object": customer.object,
        "email": customer.email,
        "name": customer.name,
    }


def payment_method_fields(pm) -> dict:
    return {
        "id": pm.id,
        "object": pm.object,
        "type": pm.type,
        "brand": pm.card.brand if pm.card else None,
        "last4": pm.card.last4 if pm.card else None,
        "customer": pm.customer,
    }


def checkout(client: stripe.StripeClient) -> None:
    """A checkout beyond Payment Intents: customer, saved card, intent, refund, charges."""
    customer = client.v1.customers.create(
        params={"email": "jenny.rosen@example.com", "name": "Jenny Rosen"}
    )
    emit("checkout_customer_create", **customer_fields(customer))

    pm = client.v1.payment_methods.create(params={"type": "card", "card": {"token": "tok_visa"}})
    emit("checkout_payment_method_create", **payment_method_fields(pm))
    pm = client.v1.payment_methods.attach(pm.id, params={"customer": customer.id})
    emit("checkout_payment_method_attach", **payment_method_fields(pm))

    intents = client.v1.payment_intents
    pi = intents.create(
        params={
            "amount": 3000,
            "currency": "usd",
            "customer": customer.id,
            "payment_method": pm.id,
            "setup_future_usage": "off_session",
            "metadata": {"order_id": CHECKOUT_ORDER},
            "payment_method_types": ["card"],
        }
    )
    emit("checkout_intent_create", **checkout_intent_fields(pi))
    pi = intents.confirm(pi.id)
    emit("checkout_intent_confirm", **checkout_intent_fields(pi))

    refund = client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 1000})
    emit(
        "checkout_refund_create",
        id=refund.id,
        object=refund.object,
        status=refund.status,
        amount=refund.amount,
        currency=refund.currency,
        charge=refund.charge,
        payment_intent=refund.payment_intent,
    )

    charges = client.v1.charges.list(params={"payment_intent": pi.id})
    emit(
        "checkout_charges_list",
        ids=[c.id for c in charges.data],
        amounts=[c.amount for c in charges.data],
        amounts_refunded=[c.amount_refunded for c in charges.data],
        refunded=[c.refunded for c in charges.data],
        customers=[c.customer for c in charges.data],
        has_more=charges.has_more,
    )

    found = intents.search(params={"query": f"customer:'{customer.id}'"})
    emit(
        "checkout_intent_search",
        ids=[p.id for p in found.data],
        statuses=[p.status for p in found.data],
        has_more=found.has_more,
    )

    emit("checkout_customer_retrieve", **customer_fields(client.v1.customers.retrieve(customer.id)))

    saved = client.v1.payment_methods.list(params={"customer": customer.id, "type": "card"})
    emit(
        "checkout_payment_methods_list",
        ids=[m.id for m in saved.data],
        customers=[m.customer for m in saved.data],
        has_more=saved.has_more,
    )


def error_fields(err: stripe.StripeError) -> dict:
    detail = err.error
    return {
        "error_class": type(err).__name__,
        "http_status": err.http_status,
        "type": detail.type if detail else None,
        "code": err.code,
        "param": detail.param if detail else None,
        "message": detail.message if detail else None,
    }


def expect_error(step: str, call) -> None:
    try:
        call()
    except stripe.StripeError as err:
        emit(step, **error_fields(err))
        return
    raise SystemExit(f"{step}: expected a Stripe error, got success")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", required=True, choices=["base-url", "proxy"])
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--key", default="sk_test_e2ePythonFlowKey0123456789")
    args = parser.parse_args()

    client = make_client(args.mode, args.port, args.ca, args.key)
    intents = client.v1.payment_intents

    pi = intents.create(
        params={
            "amount": 2000,
            "currency": "usd",
            "description": f"Order {ORDER}",
            "metadata": {"order_id": ORDER},
            "shipping": {
                "name": "Jenny Rosen",
                "address": {
                    "line1": "510 Townsend St",
                    "city": "San Francisco",
                    "state": "CA",
                    "postal_code": "94103",
                    "country": "US",
                },
            },
            "payment_method_types": ["card"],
            "capture_method": "manual",
            "expand": ["customer"],
        }
    )
    emit("create", **intent_fields(pi))
    first = pi.id

    emit("retrieve", **intent_fields(intents.retrieve(first)))

    pi = intents.update(
        first,
        params={"description": f"Order {ORDER} (gift)", "metadata": {"gift": "yes"}},
    )
    emit("update", **intent_fields(pi))

    pi = intents.confirm(first, params={"payment_method": "pm_card_visa"})
    emit("confirm", **intent_fields(pi))

    pi = intents.capture(first)
    emit("capture", **intent_fields(pi))

    second = intents.create(
        params={
            "amount": 1500,
            "currency": "eur",
            "metadata": {"order_id": SECOND_ORDER},
            "payment_method_types": ["card"],
        }
    )
    emit("create_second", **intent_fields(second))
    pi = intents.cancel(second.id, params={"cancellation_reason": "requested_by_customer"})
    emit("cancel", **intent_fields(pi))

    # The stand-in fails the first attempt with a retryable 500; the SDK retries
    # with the same Idempotency-Key and gets the intent.
    pi = intents.create(
        params={
            "amount": 500,
            "currency": "usd",
            "metadata": {"order_id": RETRY_ORDER, "standin_fail_once": "python-retry-1"},
        }
    )
    emit("create_after_retry", **intent_fields(pi))

    # The stand-in runs this create but answers `Stripe-Should-Retry: true`: the
    # SDK retries with the same Idempotency-Key and gets Stripe's idempotent
    # replay of the same intent. The next, identical create (a new key) is a new
    # intent, in replay too.
    retried = {
        "amount": 600,
        "currency": "usd",
        "metadata": {"order_id": RETRY_ORDER, "standin_retry_after_success": "python-retry-2"},
    }
    pi = intents.create(params=retried)
    emit("create_retried_after_success", **intent_fields(pi))
    again = intents.create(params=retried)
    emit("create_identical_after_retry", new_intent=again.id != pi.id, **intent_fields(again))

    page = intents.list(params={"limit": 2})
    emit("list", ids=[p.id for p in page.data], has_more=page.has_more)
    page2 = intents.list(params={"limit": 2, "starting_after": page.data[-1].id})
    emit("list_next", ids=[p.id for p in page2.data], has_more=page2.has_more)

    every = [p.id for p in intents.list(params={"limit": 2}).auto_paging_iter()]
    emit("list_auto_paging", ids=every, count=len(every))

    found = intents.search(params={"query": f"metadata['order_id']:'{ORDER}'"})
    emit(
        "search",
        ids=[p.id for p in found.data],
        statuses=[p.status for p in found.data],
        has_more=found.has_more,
    )

    # Deliberately invalid: no amount. stripe-vcr --validate strict answers this
    # itself with Stripe's own 400.
    expect_error(
        "error_missing_amount",
        lambda: intents.create(params={"currency": "usd"}),  # type: ignore[typeddict-item]
    )
    expect_error("error_unknown_id", lambda: intents.retrieve("pi_e2eDoesNotExist000000000"))

    checkout(client)

    emit("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
