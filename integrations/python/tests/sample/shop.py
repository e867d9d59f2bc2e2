"""A small shop's payment code, as an app would write it: the sample tests
exercise it through stripe-vcr. ``SHOP_AMOUNT`` lets a test run change what
the app sends, to show what a replay miss looks like."""

import os

import stripe

AMOUNT = int(os.environ.get("SHOP_AMOUNT", "1200"))


def pay(client: stripe.StripeClient, amount: int, currency: str = "usd"):
    """Creates and confirms a card payment."""
    intent = client.v1.payment_intents.create(
        params={"amount": amount, "currency": currency, "payment_method_types": ["card"]}
    )
    return client.v1.payment_intents.confirm(intent.id, params={"payment_method": "pm_card_visa"})


def pay_module_level(amount: int):
    """The older module-level style: ``stripe.api_key`` and ``stripe.PaymentIntent``."""
    return stripe.PaymentIntent.create(amount=amount, currency="eur", payment_method_types=["card"])


def pay_with_own_client(amount: int):
    """An app that builds its own client, with no base address of its own."""
    client = stripe.StripeClient(os.environ.get("SHOP_STRIPE_KEY", "sk_test_shop_sample"))
    return client.v1.payment_intents.create(params={"amount": amount, "currency": "gbp"})


def try_pay(amount: int):
    """Fire and forget: an error is logged and swallowed, as some apps do."""
    try:
        return pay_with_own_client(amount)
    except stripe.StripeError as e:
        print(f"payment failed: {e}")
        return None
