"""A webhook receiver app for stripe-python (15.3.1): verifies every delivery
with the SDK's own check, as an application's endpoint does.

    receiver.py --secret whsec_... --transcript FILE --rejections FILE

Listens on 127.0.0.1 on a free port and prints the port as stdout's first
line. Every POST is checked with `stripe.Webhook.construct_event(payload,
sig_header, secret)`: a valid one is answered 200 and appends
`{"type": ..., "id": ..., "object_id": ...}` to the transcript; an invalid
one is answered 400 and its reason appended to the rejections file. Runs
until killed.
"""

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import stripe

# One delivery at a time, appended in the order they were verified.
LOCK = threading.Lock()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--secret", required=True)
    parser.add_argument("--transcript", required=True)
    parser.add_argument("--rejections", required=True)
    args = parser.parse_args()
    open(args.transcript, "w").close()
    open(args.rejections, "w").close()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length", "0"))
            payload = self.rfile.read(length)
            sig_header = self.headers.get("Stripe-Signature", "")
            try:
                event = stripe.Webhook.construct_event(payload, sig_header, args.secret)
            except (stripe.SignatureVerificationError, ValueError) as e:
                with LOCK, open(args.rejections, "a") as f:
                    f.write(json.dumps({"error": type(e).__name__, "message": str(e)}) + "\n")
                self.answer(400, {"error": type(e).__name__})
                return
            obj = event.data.object
            line = {"type": event.type, "id": event.id, "object_id": obj["id"] if "id" in obj else None}
            with LOCK, open(args.transcript, "a") as f:
                f.write(json.dumps(line) + "\n")
            self.answer(200, {"received": True})

        def answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *log_args) -> None:  # noqa: A002
            sys.stderr.write("receiver: " + (format % log_args) + "\n")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
