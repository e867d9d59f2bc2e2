import os

import pytest
import stripe

import shop


@pytest.mark.stripe_vcr
def test_pay(stripe_vcr):
    client = stripe_vcr.client()
    intent = shop.pay(client, shop.AMOUNT)
    assert intent.status == "succeeded"
    assert intent.amount == shop.AMOUNT
    if os.environ.get("SHOP_RETRIEVE"):
        assert client.v1.payment_intents.retrieve(intent.id).id == intent.id


@pytest.mark.parametrize("currency", ["usd", "eur"])
def test_refund(stripe_vcr, currency):
    client = stripe_vcr.client()
    intent = shop.pay(client, 2000, currency)
    assert intent.currency == currency
    if not os.environ.get("SHOP_NO_REFUND"):
        refund = client.v1.refunds.create(params={"payment_intent": intent.id})
        assert (refund.amount, refund.status) == (2000, "succeeded")


@pytest.mark.stripe_vcr
def test_module_level():
    stripe.api_key = "sk_test_shop_sample"
    assert shop.pay_module_level(shop.AMOUNT).currency == "eur"


@pytest.mark.stripe_vcr
def test_own_client():
    assert shop.pay_with_own_client(shop.AMOUNT).currency == "gbp"


@pytest.mark.stripe_vcr
def test_swallowed_error():
    shop.try_pay(shop.AMOUNT + 1)


def test_stripe_is_left_as_it_was():
    assert stripe.api_base == "https://api.stripe.com"
    assert stripe.ca_bundle_path.endswith("ca-certificates.crt")
    assert stripe._stripe_client.DEFAULT_API_BASE == "https://api.stripe.com"
