#!/usr/bin/env python3
"""Generate the request-parameter schemas stripe-vcr validates against:

* schema/stripe-payment-intents.json: Payment Intents (12 endpoints), stripe-python's
  parameter tree plus schema/constraints.json;
* schema/stripe-api.json: every other v1 and v2 endpoint stripe-python calls (method, path
  template, operation name, encoding, parameter tree), from stripe-python alone; its
  Payment Intents entries point at the first file.

Usage (from anywhere; paths are found from this script's location):

    python3 scripts/gen-schema.py > schema/stripe-payment-intents.json
    python3 scripts/gen-schema.py --api > schema/stripe-api.json
    python3 scripts/gen-schema.py --write    # both files, written only if every check passes
    python3 scripts/gen-schema.py --check    # exit 1 with a short diff if a committed file differs

Inputs, both reachable from the repository alone:

* the parameter tree (names, types, required-ness, enums, whether "" is accepted, at every
  depth) is read from stripe-python's `stripe/params` TypedDicts. The script installs the
  pinned release (STRIPE_PYTHON below, by wheel hash, from PyPI) into a private virtualenv,
  target/schema-venv, reused while it holds exactly the pinned versions, and introspects it
  there (typing.get_type_hints, __required_keys__, get_origin/get_args). Which request
  each TypedDict describes (HTTP method, path template, host, multipart or not) comes from
  static analysis (ast) of the same package's service classes (sdk_operations);
* everything the SDK does not carry (max_length, format, min/max, enums that Stripe does not
  enforce, parameters that the SDK lacks, cross-parameter rules) comes from
  schema/constraints.json, whose overlays say where each fact comes from (Payment Intents
  only).

The output formats are described in schema/README.md. Output is deterministic: object keys
sorted, enums and type lists sorted; stripe-payment-intents.json with a 2-space indent,
stripe-api.json with one endpoint per line; one trailing newline. Nothing is printed or
written unless every check of both files passes (the seed-page parameters, the constraints
all landing on a parameter of the right shape, every SDK request understood and named, the
sanity assertions), so a failed run never emits a partial schema; with a shell redirection
the target file has been truncated by then, which --write avoids.

Exit status: 0 success; 1 a check failed or (--check) a committed file differs;
2 the SDK could not be installed or introspected, or an input could not be read.

The script itself needs only the Python 3.11 standard library (and PyPI, once).
"""

from __future__ import annotations

import argparse
import ast
import difflib
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA_PATH = os.path.join(REPO_ROOT, "schema", "stripe-payment-intents.json")
API_SCHEMA_PATH = os.path.join(REPO_ROOT, "schema", "stripe-api.json")
CONSTRAINTS_PATH = os.path.join(REPO_ROOT, "schema", "constraints.json")
VENV_DIR = os.path.join(REPO_ROOT, "target", "schema-venv")

# The SDK release the parameter tree comes from, and the one package it needs to be
# imported (typing_extensions; `requests`, its other dependency, is only used to make
# requests). Installed with --no-deps --require-hashes, so the tree cannot change under us.
# To move to a newer release: change these four values (hashes: `pip download --no-deps
# stripe==X` and sha256sum), run with --write, review the diff and schema/README.md.
STRIPE_PYTHON = ("stripe", "16.1.0", "3798e07a0603c8923710414cd1942ae847ed43cebbf34c3258417c189711ea70")
TYPING_EXTENSIONS = (
    "typing_extensions",
    "4.16.0",
    "481caa481374e813c1b176ada14e97f1f67a4539ce9cfeb3f350d78d6370c2e8",
)
PINNED = [STRIPE_PYTHON, TYPING_EXTENSIONS]

SCHEMA_VERSION = 1
SCHEMA_NAME = "Stripe Payment Intents API"

# Endpoint key in the schema -> (method, path, stripe-python TypedDict in stripe.params).
ENDPOINTS = {
    "list": ("GET", "/v1/payment_intents", "PaymentIntentListParams"),
    "create": ("POST", "/v1/payment_intents", "PaymentIntentCreateParams"),
    "search": ("GET", "/v1/payment_intents/search", "PaymentIntentSearchParams"),
    "retrieve": ("GET", "/v1/payment_intents/{intent}", "PaymentIntentRetrieveParams"),
    "update": ("POST", "/v1/payment_intents/{intent}", "PaymentIntentUpdateParams"),
    "list_amount_details_line_items": (
        "GET",
        "/v1/payment_intents/{intent}/amount_details_line_items",
        "PaymentIntentListAmountDetailsLineItemsParams",
    ),
    "apply_customer_balance": (
        "POST",
        "/v1/payment_intents/{intent}/apply_customer_balance",
        "PaymentIntentApplyCustomerBalanceParams",
    ),
    "cancel": ("POST", "/v1/payment_intents/{intent}/cancel", "PaymentIntentCancelParams"),
    "capture": ("POST", "/v1/payment_intents/{intent}/capture", "PaymentIntentCaptureParams"),
    "confirm": ("POST", "/v1/payment_intents/{intent}/confirm", "PaymentIntentConfirmParams"),
    "increment_authorization": (
        "POST",
        "/v1/payment_intents/{intent}/increment_authorization",
        "PaymentIntentIncrementAuthorizationParams",
    ),
    "verify_microdeposits": (
        "POST",
        "/v1/payment_intents/{intent}/verify_microdeposits",
        "PaymentIntentVerifyMicrodepositsParams",
    ),
}

# Seed-documented parameters. Source: the English API page our product is built around,
# shared/seeds/003_c6ee5c632c2d533d.txt ("Payment Intent API Functions"; seeds 000 and 001
# are the same page in Chinese and Japanese). Its parameter tables list these names and
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
# What an overlay entry of schema/constraints.json may set on an existing parameter.
OVERLAY_KEYS = {"max_length", "format", "enum_open", "min", "max", "required", "only_with_confirm"}
CONSTRAINTS_FORMAT_VERSION = 1


class SchemaError(Exception):
    """A check failed: exit status 1."""


class SetupError(Exception):
    """The SDK could not be installed or introspected, or an input could not be read: exit
    status 2."""


def fail(msg: str) -> None:
    raise SchemaError(msg)


# --------------------------------------------------------------------------------------
# The pinned SDK: a private virtualenv, and introspection inside it.


def venv_python() -> str:
    if os.name == "nt":
        return os.path.join(VENV_DIR, "Scripts", "python.exe")
    return os.path.join(VENV_DIR, "bin", "python")


def installed_versions(python: str) -> dict | None:
    """Versions of the pinned distributions in the venv, or None if it is unusable."""
    probe = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for d in sys.argv[1:]:\n"
        "    try: out[d] = m.version(d)\n"
        "    except m.PackageNotFoundError: out[d] = None\n"
        "print(json.dumps(out))\n"
    )
    if not os.path.exists(python):
        return None
    try:
        run = subprocess.run(
            [python, "-I", "-c", probe, *[name for name, _, _ in PINNED]],
            capture_output=True, text=True, check=True,
        )
        return json.loads(run.stdout)
    except (OSError, subprocess.CalledProcessError, ValueError):
        return None


def ensure_venv() -> str:
    """The venv's python, with exactly the pinned distributions installed."""
    python = venv_python()
    wanted = {name: version for name, version, _ in PINNED}
    if installed_versions(python) == wanted:
        return python
    log(f"installing {', '.join(f'{n}=={v}' for n, v, _ in PINNED)} into {os.path.relpath(VENV_DIR)}")
    os.makedirs(os.path.dirname(VENV_DIR), exist_ok=True)
    # Progress goes to stderr: stdout carries the schema.
    subprocess.run([sys.executable, "-m", "venv", "--clear", VENV_DIR], check=True, stdout=sys.stderr)
    requirements = os.path.join(VENV_DIR, "requirements.txt")
    with open(requirements, "w", encoding="utf-8") as f:
        for name, version, sha256 in PINNED:
            f.write(f"{name}=={version} --hash=sha256:{sha256}\n")
    subprocess.run(
        [python, "-I", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
         "--no-deps", "--only-binary=:all:", "--require-hashes", "-r", requirements],
        check=True, stdout=sys.stderr,
    )
    got = installed_versions(python)
    if got != wanted:
        raise SetupError(f"{VENV_DIR} holds {got} after installing, expected {wanted}")
    return python


def introspect() -> dict:
    """Runs inside the venv: the parameter trees, in the schema's Param format (type/types,
    required, enum, emptyable, items, children, and for the whole-API file values, nullable,
    format "decimal"), at every depth: the Payment Intents endpoints of ENDPOINTS, and every
    operation stripe-python makes (sdk_operations)."""
    import decimal
    import importlib
    import types
    import typing

    import typing_extensions

    import stripe
    import stripe.params
    from stripe._request_options import RequestOptions
    from stripe._stripe_context import StripeContext
    from stripe._stripe_object import UntypedStripeObject

    literal_types = {typing.Literal, typing_extensions.Literal}
    request_options = set(RequestOptions.__annotations__)
    # RequestOptions' own annotations name these; the endpoint classes inherit them.
    base_globals = vars(sys.modules[RequestOptions.__module__])

    def alternatives(t):
        if typing.get_origin(t) is typing.Union or isinstance(t, types.UnionType):
            return list(typing.get_args(t))
        return [t]

    def param(t, where, stack):
        kinds, enum, out = set(), set(), {}
        for alt in alternatives(t):
            origin = typing.get_origin(alt)
            if origin in literal_types:
                values = typing.get_args(alt)
                if not all(isinstance(v, str) for v in values):
                    fail(f"{where}: non-string Literal {values!r}")
                if "" in values:
                    # Literal[""]: "" unsets the parameter; it is no enum value.
                    out["emptyable"] = True
                    values = tuple(v for v in values if v)
                if values:
                    enum.update(values)
                    kinds.add("string")
            elif alt is str:
                # Alone: a string. Beside a Literal (stripe-python 16's "open enum": Stripe
                # may add values) it adds nothing: Stripe still validates requests against
                # the current values (docs.stripe.com/api/enums). Enums Stripe does not
                # enforce are marked from schema/constraints.json.
                kinds.add("string")
            elif alt is bool:
                kinds.add("boolean")
            elif alt is int:
                kinds.add("integer")
            elif alt is float:
                kinds.add("number")
            elif alt is decimal.Decimal:
                # Sent as str(Decimal), in a form body and in a JSON body alike
                # (stripe._encode): a decimal string such as "12.5".
                kinds.add("string")
                out["format"] = "decimal"
            elif alt is type(None):
                # Optional[X] (v2): JSON null is accepted (it clears the value).
                out["nullable"] = True
            elif alt is typing.Any and where.endswith(".file"):
                # POST /v1/files: the uploaded file, a part of the multipart body.
                kinds.add("file")
            elif origin is list:
                (element,) = typing.get_args(alt)
                kinds.add("array")
                out["items"] = param(element, where + "[]", stack)
                if out["items"].get("emptyable") or out["items"].get("required"):
                    fail(f"{where}: array elements that are emptyable or required")
            elif origin is dict or origin is UntypedStripeObject:
                # Dict[str, V] / UntypedStripeObject[V]: free-form keys. V = str is a plain
                # `hash` (metadata); anything else is described by `values`.
                args = typing.get_args(alt)
                if args[:-1] not in ((), (str,)) or not args:
                    fail(f"{where}: unsupported mapping {alt!r}")
                kinds.add("hash")
                if args[-1] is not str:
                    values = param(args[-1], where + "{}", stack)
                    if out.get("values", values) != values:
                        fail(f"{where}: mappings with different values")
                    out["values"] = values
            elif typing_extensions.is_typeddict(alt):
                kinds.add("object")
                out["children"] = fields(alt, where, stack)
            else:
                fail(f"{where}: unsupported type {alt!r}")
        only_empty = not kinds and out.get("emptyable")
        if only_empty:
            # Literal[""] alone (e.g. invoice_items.update invoicing_rules): "" is the only
            # value accepted, written as a string with an empty enum that is emptyable.
            kinds.add("string")
        if not kinds:
            fail(f"{where}: only null is accepted")
        if "array" in kinds and len(kinds) > 1:
            fail(f"{where}: an array or something else: {sorted(kinds)}")
        if "format" in out and kinds != {"string"}:
            fail(f"{where}: a decimal or something else: {sorted(kinds)}")
        if len(kinds) == 1:
            (out["type"],) = kinds
        else:
            out["types"] = sorted(kinds)
        if enum or only_empty:
            out["enum"] = sorted(enum)
        return out

    def fields(td, where, stack, skip=frozenset()):
        if td in stack:
            fail(f"{where}: {td.__name__} contains itself")
        hints = typing.get_type_hints(
            td,
            globalns={**base_globals, **vars(sys.modules[td.__module__])},
            localns={"StripeContext": StripeContext},
        )
        out = {}
        for name, t in sorted(hints.items()):
            if name in skip:
                continue
            p = param(t, f"{where}.{name}", stack + [td])
            if name in td.__required_keys__:
                p["required"] = True
            out[name] = p
        return out

    def top(td, where):
        skip = request_options if RequestOptions in getattr(td, "__orig_bases__", ()) else frozenset()
        return fields(td, where, [], skip)

    endpoints = {}
    for name, (_, _, cls_name) in ENDPOINTS.items():
        endpoints[name] = top(getattr(stripe.params, cls_name), name)

    operations = []
    for op in sdk_operations(os.path.dirname(os.path.abspath(stripe.__file__))):
        module, cls_name = op.pop("params_module"), op.pop("params_class")
        td = getattr(importlib.import_module(module), cls_name, None)
        if td is None or not typing_extensions.is_typeddict(td):
            fail(f"{op['sdk']}: {module}.{cls_name} is not a TypedDict")
        op["params"] = params = top(td, op["sdk"])
        for path, encoding in flatten_encodings(op.pop("encodings")):
            # stripe-python's _coerce_v2_params: only "decimal_string", on a Decimal.
            node = {"children": params}
            for segment in path:
                node = node.get("children", {}).get(segment)
                if node is None:
                    fail(f"{op['sdk']}: param encoding for unknown parameter {'.'.join(path)}")
                node = node.get("items", node)
            if encoding != "decimal_string" or node.get("format") != "decimal":
                fail(f"{op['sdk']}: param encoding {encoding!r} on {'.'.join(path)} is not understood")
        operations.append(op)
    from stripe._api_version import _ApiVersion

    return {
        "stripe_version": stripe.VERSION,
        "api_version": _ApiVersion.CURRENT,
        "endpoints": endpoints,
        "operations": operations,
        # base_address -> URL (StripeClient's defaults)
        "base_addresses": {
            "api": stripe.DEFAULT_API_BASE,
            "connect": stripe.DEFAULT_CONNECT_API_BASE,
            "files": stripe.DEFAULT_UPLOAD_API_BASE,
            "meter_events": stripe.DEFAULT_METER_EVENTS_API_BASE,
        },
    }


def flatten_encodings(tree: dict | None, prefix: tuple = ()) -> list:
    """stripe-python's nested _param_encodings dict as [(path tuple, encoding)]."""
    out = []
    for key, value in sorted((tree or {}).items()):
        if isinstance(value, dict):
            out.extend(flatten_encodings(value, prefix + (key,)))
        else:
            out.append((prefix + (key,), value))
    return out


# --------------------------------------------------------------------------------------
# Which request each params class describes: static analysis (ast) of the pinned
# stripe-python's source. Runs inside the venv (introspect), but needs only the standard
# library and the package directory.

# The StripeClient roots: client.v1 and client.v2.
SERVICE_ROOTS = [("stripe._v1_services", "V1Services", "v1"), ("stripe._v2_services", "V2Services", "v2")]
HTTP_METHODS = {"get": "GET", "post": "POST", "delete": "DELETE"}


class _Module:
    """A parsed module of the stripe package: its syntax tree and its imported names."""

    def __init__(self, package_dir: str, name: str):
        self.name = name
        parts = name.split(".")
        if parts[0] != "stripe":
            fail(f"sdk analysis: {name} is outside the stripe package")
        self.file = os.path.join(package_dir, *parts[1:]) + ".py"
        try:
            with open(self.file, encoding="utf-8") as f:
                self.tree = ast.parse(f.read(), self.file)
        except (OSError, SyntaxError) as e:
            raise SetupError(f"sdk analysis: cannot read {self.file}: {e}") from e
        # `from stripe.params._x_params import XParams` (at top level or under
        # `if TYPE_CHECKING:`): name -> module.
        self.imports = {}
        nodes = list(self.tree.body)
        for node in self.tree.body:
            if isinstance(node, ast.If):
                nodes.extend(node.body)
        for node in nodes:
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = node.module

    def cls(self, name: str) -> ast.ClassDef:
        for node in self.tree.body:
            if isinstance(node, ast.ClassDef) and node.name == name:
                return node
        fail(f"sdk analysis: no class {name} in {self.name}")

    def subservices(self) -> dict:
        """The module's `_subservices = {"attr": ["module", "Class"], ...}`."""
        for node in self.tree.body:
            if isinstance(node, ast.Assign) and [ast.unparse(t) for t in node.targets] == ["_subservices"]:
                value = ast.literal_eval(node.value)
                if not all(isinstance(v, list) and len(v) == 2 for v in value.values()):
                    fail(f"sdk analysis: {self.name}: unexpected _subservices {value!r}")
                return value
        return {}


def _annotation_name(node) -> str | None:
    """`"XParams"`, `Optional["XParams"]`, `Unpack["XParams"]` -> XParams."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Subscript) and ast.unparse(node.value) in ("Optional", "Unpack"):
        return _annotation_name(node.slice)
    return None


def _request_call(fn: ast.FunctionDef, where: str, receivers: tuple) -> tuple | None:
    """(HTTP method, path template, keywords) of the one `self._request(...)` (or
    `_request_stream`, `cls._static_request`, ...) call in a method, or None if it has none."""
    calls = [
        n for n in ast.walk(fn)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
        and isinstance(n.func.value, ast.Name) and n.func.value.id in receivers
        and n.func.attr in ("_request", "_request_stream", "_static_request", "_static_request_stream")
    ]
    if not calls:
        return None
    if len(calls) != 1:
        fail(f"sdk analysis: {where} makes {len(calls)} requests")
    call = calls[0]
    if len(call.args) < 2:
        fail(f"sdk analysis: {where}: request call without method and path")
    method, path = call.args[0], call.args[1]
    # "/v1/customers/{customer}".format(customer=sanitize_id(customer))
    if isinstance(path, ast.Call) and isinstance(path.func, ast.Attribute) and path.func.attr == "format":
        path = path.func.value
    if not (isinstance(method, ast.Constant) and method.value in HTTP_METHODS):
        fail(f"sdk analysis: {where}: HTTP method {ast.unparse(method)} is not a literal get/post/delete")
    if not (isinstance(path, ast.Constant) and isinstance(path.value, str)):
        fail(f"sdk analysis: {where}: path {ast.unparse(path)} is not a literal template")
    return HTTP_METHODS[method.value], path.value, {k.arg: k.value for k in call.keywords}


def _params_sent(keywords: dict, where: str):
    """The `params=` of the request: `params` itself, or `_coerce_v2_params(params, {...})`
    (returns its encodings). Anything else is not understood."""
    sent = keywords.get("params")
    encodings = None
    if "_param_encodings" in keywords:
        encodings = ast.literal_eval(keywords["_param_encodings"])
    if isinstance(sent, ast.Call) and ast.unparse(sent.func) == "_coerce_v2_params" and len(sent.args) == 2:
        if encodings is not None:
            fail(f"sdk analysis: {where}: two sets of param encodings")
        encodings = ast.literal_eval(sent.args[1])
        sent = sent.args[0]
    if not (isinstance(sent, ast.Name) and sent.id == "params"):
        fail(f"sdk analysis: {where}: sends params={ast.unparse(sent) if sent else None}, not its params argument")
    return encodings


def sdk_operations(package_dir: str) -> list[dict]:
    """Every request stripe-python's StripeClient makes, found by walking the service tree
    (client.v1.*, client.v2.*) through the `_subservices` tables and reading each public
    service method's `self._request("post", "/v1/...".format(...), params=params, ...)`
    call and its `params: Optional["XParams"]` annotation; plus the few requests only the
    resource classes (stripe.Charge, ...) make, found by reading their methods'
    `cls._static_request(...)` calls and `**params: Unpack["XParams"]`.

    Each operation: sdk (the call, e.g. "v1.customers.payment_sources.retrieve"), verb (the
    method's name), method, path, base_address, multipart, params_module, params_class,
    encodings. Fails on anything it does not understand, so a new SDK shape is noticed."""
    modules = {}

    def module(name):
        if name not in modules:
            modules[name] = _Module(package_dir, name)
        return modules[name]

    def params_of(mod, fn, where, name):
        node = _annotation_name(name)
        if node is None:
            fail(f"sdk analysis: {where}: params annotation {ast.unparse(name) if name else None} not understood")
        if node not in mod.imports or not mod.imports[node].startswith("stripe.params."):
            fail(f"sdk analysis: {where}: {node} is not imported from stripe.params")
        return mod.imports[node], node

    ops = []
    seen_services = set()

    def walk(mod_name, cls_name, chain):
        mod = module(mod_name)
        if (mod_name, cls_name, tuple(chain)) in seen_services:
            return
        seen_services.add((mod_name, cls_name, tuple(chain)))
        for attr, (sub_mod, sub_cls) in sorted(mod.subservices().items()):
            walk(sub_mod, sub_cls, chain + [attr])
        for fn in mod.cls(cls_name).body:
            if not isinstance(fn, ast.FunctionDef) or fn.name.startswith("_"):
                continue
            where = f"{mod_name}.{cls_name}.{fn.name}"
            found = _request_call(fn, where, ("self",))
            if found is None:
                fail(f"sdk analysis: {where} makes no request")
            method, path, keywords = found
            args = [a for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs if a.arg == "params"]
            if len(args) != 1:
                fail(f"sdk analysis: {where} has no params argument")
            params_module, params_class = params_of(mod, fn, where, args[0].annotation)
            base = keywords.get("base_address")
            if not (isinstance(base, ast.Constant) and isinstance(base.value, str)):
                fail(f"sdk analysis: {where}: base_address is not a literal")
            ops.append({
                "sdk": ".".join(chain + [fn.name]),
                "verb": fn.name,
                "method": method,
                "path": path,
                "base_address": base.value,
                # FileService.create: options["content_type"] = "multipart/form-data"
                "multipart": any(
                    isinstance(n, ast.Constant) and n.value == "multipart/form-data" for n in ast.walk(fn)
                ),
                "params_module": params_module,
                "params_class": params_class,
                "encodings": _params_sent(keywords, where),
            })

    for mod_name, cls_name, root in SERVICE_ROOTS:
        walk(mod_name, cls_name, [root])

    # The resource classes: requests with a literal path that no service makes.
    def norm(path):
        return re.sub(r"\{[^}]*\}", "{}", path)

    known = {(op["method"], norm(op["path"])) for op in ops}
    extra = {}
    for dirpath, dirnames, filenames in os.walk(package_dir):
        dirnames[:] = sorted(d for d in dirnames if d not in ("params", "__pycache__"))
        for filename in sorted(filenames):
            if not filename.endswith(".py") or filename.endswith("_service.py") or filename.endswith("_services.py"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, filename), package_dir)[:-3]
            with open(os.path.join(dirpath, filename), encoding="utf-8") as f:
                text = f.read()
            if '"/v1/' not in text and '"/v2/' not in text:
                continue  # no literal path: nothing to read
            mod = module("stripe." + rel.replace(os.sep, "."))
            for cls in (n for n in mod.tree.body if isinstance(n, ast.ClassDef)):
                for fn in cls.body:
                    if not isinstance(fn, ast.FunctionDef) or fn.name.startswith("_") or fn.name.endswith("_async"):
                        continue
                    where = f"{mod.name}.{cls.name}.{fn.name}"
                    try:
                        found = _request_call(fn, where, ("self", "cls"))
                    except SchemaError:
                        continue  # class_url()-built paths: the services cover those
                    if found is None or (found[0], norm(found[1])) in known:
                        continue
                    method, path, keywords = found
                    if fn.args.kwarg is None:
                        fail(f"sdk analysis: {where}: no **params")
                    params_module, params_class = params_of(mod, fn, where, fn.args.kwarg.annotation)
                    # stripe._charge -> stripe.Charge.list_refunds (the public name)
                    package = ".".join(p for p in mod.name.split(".") if not p.startswith("_"))
                    op = {
                        "sdk": f"{package}.{cls.name}.{fn.name}",
                        "verb": fn.name,
                        "method": method,
                        "path": path,
                        "base_address": "api",
                        "multipart": False,
                        "params_module": params_module,
                        "params_class": params_class,
                        "encodings": _params_sent(keywords, where),
                    }
                    extra.setdefault((method, path, op["sdk"]), op)
    ops.extend(op for _, op in sorted(extra.items()))
    return ops


def sdk_tree() -> dict:
    try:
        python = ensure_venv()
    except (OSError, subprocess.CalledProcessError) as e:
        raise SetupError(f"could not install stripe-python {STRIPE_PYTHON[1]}: {e}") from e
    run = subprocess.run(
        [python, "-I", os.path.abspath(__file__), "--introspect"], capture_output=True, text=True,
    )
    sys.stderr.write(run.stderr)
    if run.returncode != 0:
        raise SetupError(f"introspecting stripe-python failed (exit status {run.returncode})")
    tree = json.loads(run.stdout)
    if tree.get("stripe_version") != STRIPE_PYTHON[1]:
        raise SetupError(f"introspected stripe {tree.get('stripe_version')}, pinned {STRIPE_PYTHON[1]}")
    return tree


# --------------------------------------------------------------------------------------
# Applying schema/constraints.json.


def split_path(path: str) -> list[str]:
    """`a[b][][c]` -> ["a", "b", "", "c"]; "" stands for the elements of an array."""
    m = re.fullmatch(r"([a-z0-9_]+)((?:\[[a-z0-9_]*\])*)", path)
    if not m:
        fail(f"constraints: malformed parameter path {path!r}")
    return [m.group(1)] + re.findall(r"\[([a-z0-9_]*)\]", m.group(2))


def resolve(params: dict, path: str, where: str) -> tuple[dict, str, dict | None]:
    """(container, last name, node or None) for a path: the container is the dict of
    named params/children the last segment is looked up in."""
    segments = split_path(path)
    container, node = params, None
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == "":
            if node is None or "items" not in node:
                fail(f"{where}: {path}: [] on something that is not an array")
            node = node["items"]
            if last:
                return {}, "", node
            continue
        if i > 0:
            if "children" not in node:
                fail(f"{where}: {path}: {segment} under something without children")
            container = node["children"]
        node = container.get(segment)
        if node is None and not last:
            fail(f"{where}: {path}: no parameter {segment} in stripe-python {STRIPE_PYTHON[1]}")
    return container, segments[-1], node


def accepts(node: dict, kind: str) -> bool:
    return node.get("type") == kind or kind in node.get("types", [])


def apply_entry(endpoints: dict, endpoint: str, path: str, entry: dict, where: str) -> None:
    if not isinstance(entry, dict) or not entry:
        fail(f"{where}: {path}: entry is not a non-empty object")
    params = endpoints[endpoint]["params"]
    container, name, node = resolve(params, path, where)
    if "add" in entry:
        if set(entry) != {"add"}:
            fail(f"{where}: {path}: add goes alone")
        if node is not None:
            fail(f"{where}: {path}: already in stripe-python {STRIPE_PYTHON[1]}; remove it from the constraints")
        if name == "":
            fail(f"{where}: {path}: cannot add array elements")
        container[name] = json.loads(json.dumps(entry["add"]))
        return
    if node is None:
        fail(f"{where}: {path}: no such parameter in stripe-python {STRIPE_PYTHON[1]}")
    unknown = set(entry) - OVERLAY_KEYS
    if unknown:
        fail(f"{where}: {path}: unknown keys {sorted(unknown)}")
    for key, value in sorted(entry.items()):
        if key in node:
            fail(
                f"{where}: {path}: {key} is already {node[key]!r} (from the SDK or an earlier "
                "overlay); each fact is stated once"
            )
        if key == "max_length":
            if not (isinstance(value, int) and value > 0 and accepts(node, "string")):
                fail(f"{where}: {path}: max_length {value!r} on a parameter that takes no string")
        elif key == "format":
            if value != "currency" or node.get("type") != "string":
                fail(f"{where}: {path}: format {value!r} (only \"currency\", on a string)")
        elif key == "enum_open":
            if value is not True or "enum" not in node:
                fail(f"{where}: {path}: enum_open on a parameter without an enum")
        elif key in ("min", "max"):
            if not isinstance(value, int) or isinstance(value, bool) or not accepts(node, "integer"):
                fail(f"{where}: {path}: {key} {value!r} on a parameter that takes no integer")
        elif key == "required":
            if value is not True or name == "":
                fail(f"{where}: {path}: required must be true, on a named parameter")
        elif key == "only_with_confirm":
            if value is not True or endpoint != "create" or path != name:
                fail(f"{where}: {path}: only_with_confirm is for top-level create parameters")
            if name not in endpoints["confirm"]["params"]:
                fail(f"{where}: {path}: only_with_confirm, but confirm has no {name}")
        node[key] = value


def apply_constraints(endpoints: dict, constraints: dict) -> list[str]:
    """Applies every overlay; returns one provenance line per overlay."""
    if constraints.get("format_version") != CONSTRAINTS_FORMAT_VERSION:
        fail(f"constraints: format_version {constraints.get('format_version')!r}, expected {CONSTRAINTS_FORMAT_VERSION}")
    lines, names = [], set()
    for overlay in constraints.get("overlays", []):
        name, source = overlay.get("name"), overlay.get("source")
        if not isinstance(name, str) or not isinstance(source, str) or name in names:
            fail(f"constraints: overlay without a unique name and a source: {name!r}")
        names.add(name)
        unknown = set(overlay) - {"name", "source", "params", "rules"}
        if unknown:
            fail(f"constraints: overlay {name}: unknown keys {sorted(unknown)}")
        for endpoint, entries in overlay.get("params", {}).items():
            if endpoint not in endpoints:
                fail(f"constraints: overlay {name}: unknown endpoint {endpoint}")
            for path, entry in entries.items():
                apply_entry(endpoints, endpoint, path, entry, f"constraints: overlay {name}, {endpoint}")
        for endpoint, rules in overlay.get("rules", {}).items():
            if endpoint not in endpoints:
                fail(f"constraints: overlay {name}: rules for unknown endpoint {endpoint}")
            for rule in rules:
                if set(rule) != {"exclusive"} or len(rule["exclusive"]) < 2:
                    fail(f"constraints: overlay {name}: unknown rule {rule!r}")
                for p in rule["exclusive"]:
                    if p not in endpoints[endpoint]["params"]:
                        fail(f"constraints: overlay {name}: rule on {endpoint} names unknown parameter {p}")
                endpoints[endpoint]["rules"].append({"exclusive": sorted(rule["exclusive"])})
        lines.append(f"{name}: {source}")
    return lines


# --------------------------------------------------------------------------------------
# Building and checking.


def build(tree: dict, constraints: dict, constraints_sha256: str) -> dict:
    got = set(tree.get("endpoints", {}))
    if got != set(ENDPOINTS):
        fail(f"introspection returned endpoints {sorted(got)}, expected {sorted(ENDPOINTS)}")
    endpoints = {
        name: {"method": method, "path": path, "params": tree["endpoints"][name], "rules": []}
        for name, (method, path, _) in ENDPOINTS.items()
    }
    overlay_lines = apply_constraints(endpoints, constraints)

    currencies = sorted(set(CURRENCIES))
    if len(currencies) != len(CURRENCIES) or not all(re.fullmatch(r"[a-z]{3}", c) for c in currencies):
        fail("currency list has duplicates or codes that are not three lower-case letters")

    provenance = [
        "structure (names, types, required, enums, \"\" allowed), at every depth: the "
        f"stripe/params TypedDicts of stripe-python {STRIPE_PYTHON[1]} (PyPI wheel sha256 "
        f"{STRIPE_PYTHON[2]}; API version {tree.get('api_version')}), introspected by "
        "scripts/gen-schema.py",
        f"constraints the SDK does not carry: schema/constraints.json (sha256 {constraints_sha256}), "
        "overlays in order:",
        *overlay_lines,
        "seed-documented parameters checked against: "
        "shared/seeds/003_c6ee5c632c2d533d.txt (English API page; 000/001 are the same page "
        "in Chinese/Japanese)",
        "currencies: Stripe's supported currencies page, as known in 2026; may drift",
    ]
    return {
        "schema_version": SCHEMA_VERSION,
        "name": SCHEMA_NAME,
        "provenance": provenance,
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
            assert "children" in param, where
        else:
            assert "children" not in param, where
    else:
        assert all(x in PARAM_TYPES - {"hash", "array"} for x in param["types"]), where
        assert param["types"] == sorted(param["types"]), where
        assert ("children" in param) == ("object" in param["types"]), where
    # Every level is documented now: nothing is left open.
    assert "open" not in param, where
    for flag in ("required", "enum_open", "emptyable", "only_with_confirm", "not_in_sdk", "deprecated"):
        assert param.get(flag, True) is True, (where, flag)
    if "enum" in param:
        assert param["enum"] == sorted(param["enum"]) and param["enum"], where
        assert "string" in param.get("types", [param.get("type")]), where
    assert "enum_open" not in param or "enum" in param, where
    assert param.get("format", "currency") == "currency", where
    for child, sub in param.get("children", {}).items():
        check_contract(sub, f"{where}.{child}")
    if "items" in param:
        assert "required" not in param["items"] and "emptyable" not in param["items"], where
        check_contract(param["items"], where + "[]")


def find(params: dict, path: str) -> dict:
    """The Param at a constraints-style path (`a[b][][c]`), for the assertions below."""
    _, _, node = resolve(params, path, "sanity")
    assert node is not None, path
    return node


def sanity_checks(schema: dict) -> None:
    eps = schema["endpoints"]
    assert set(eps) == set(ENDPOINTS), sorted(eps)
    for name, ep in eps.items():
        assert (ep["method"], ep["path"]) == ENDPOINTS[name][:2], name
        assert ep["params"], f"{name} has no params"
        for p, param in ep["params"].items():
            check_contract(param, f"{name}.{p}")
        expand = ep["params"].get("expand")
        assert expand is not None and expand["type"] == "array", f"{name}.expand"
        assert expand["items"]["type"] == "string", f"{name}.expand"
        # Newer than the 2022 spec and not in the supplement: no max_length (a known gap).
        if name != "list_amount_details_line_items":
            assert expand["items"] == {"type": "string", "max_length": 5000}, f"{name}.expand"

    def depth(param: dict, d: int) -> int:
        inner = [depth(c, d + 1) for c in param.get("children", {}).values()]
        if "items" in param:
            inner.append(depth(param["items"], d))
        return max([d, *inner])

    deepest = max(depth(p, 1) for ep in eps.values() for p in ep["params"].values())
    assert deepest >= 5, deepest

    c = eps["create"]["params"]
    assert c["amount"] == {"type": "integer", "required": True, "min": 1, "max": 99999999}, c["amount"]
    assert c["currency"] == {"type": "string", "required": True, "format": "currency"}, c["currency"]
    assert c["shipping"]["children"]["address"]["type"] == "object"
    assert c["shipping"]["children"]["address"]["required"] is True
    assert c["shipping"]["children"]["name"] == {"type": "string", "required": True, "max_length": 5000}
    assert c["metadata"] == {"type": "hash"}, c["metadata"]
    assert eps["update"]["params"]["metadata"] == {"type": "hash", "emptyable": True}
    assert c["off_session"]["types"] == ["boolean", "string"]
    assert c["off_session"]["enum"] == ["one_off", "recurring"]
    assert c["off_session"]["only_with_confirm"] is True
    assert "only_with_confirm" not in c["confirm"] and "only_with_confirm" not in c["amount"]
    for ep in eps.values():
        if ep is not eps["create"]:
            assert not any(p.get("only_with_confirm") for p in ep["params"].values())
    # stripe-python 16's Union[Literal, str] enums stay closed unless constraints.json opens them.
    assert c["capture_method"] == {"type": "string", "enum": ["automatic", "automatic_async", "manual"]}
    assert c["payment_method_types"]["items"] == {"type": "string", "max_length": 5000}
    assert c["allowed_payment_method_types"]["items"]["enum_open"] is True
    # The named items of issue #15.
    for name in ("create", "confirm"):
        assert find(eps[name]["params"], "radar_options[referrer]") == {"type": "string", "emptyable": True}
    for name in ("create", "update", "confirm"):
        params = eps[name]["params"]
        for path in (
            "payment_method_options[card][network]",
            "payment_method_options[card][request_three_d_secure]",
            "payment_method_data[p24][bank]",
            "payment_method_data[fpx][bank]",
        ):
            assert find(params, path)["enum_open"] is True, (name, path)
        assert find(params, "payment_method_options[card][statement_descriptor_suffix_kana]")["max_length"] == 22
        assert find(params, "payment_method_options[card][statement_descriptor_suffix_kanji]")["max_length"] == 17
    assert eps["increment_authorization"]["params"]["statement_descriptor"]["max_length"] == 22
    assert find(c, "mandate_data[customer_acceptance]")["required"] is True
    assert find(eps["confirm"]["params"], "mandate_data[customer_acceptance]")["required"] is True
    online = find(c, "mandate_data[customer_acceptance][online]")
    assert online == {"type": "object", "children": {
        "ip_address": {"type": "string", "required": True},
        "user_agent": {"type": "string", "required": True, "max_length": 5000}}}, online
    assert find(c, "mandate_data[customer_acceptance][offline]") == {"type": "object", "children": {}}
    assert find(c, "payment_method_options[card][three_d_secure][version]")["required"] is True
    li = c["amount_details"]["children"]["line_items"]
    assert li["type"] == "array" and li["emptyable"] is True and li["items"]["type"] == "object"
    assert li["items"]["children"]["product_name"] == {"type": "string", "required": True, "max_length": 1024}
    assert eps["retrieve"]["params"].keys() == {"client_secret", "expand"}

    created = eps["list"]["params"]["created"]
    assert created["types"] == ["integer", "object"], created
    assert set(created["children"]) == {"gt", "gte", "lt", "lte"}
    assert all(v == {"type": "integer"} for v in created["children"].values())
    for name in ("list", "search", "list_amount_details_line_items"):
        assert eps[name]["params"]["limit"] == {"type": "integer", "min": 1, "max": 100}, name
    for name in ("create", "update", "increment_authorization"):
        amount = eps[name]["params"]["amount"]
        assert amount["min"] == 1 and amount["max"] == 99999999, name
    assert eps["increment_authorization"]["params"]["amount"]["required"] is True
    assert "required" not in eps["update"]["params"]["amount"]
    assert eps["search"]["params"]["query"]["required"] is True
    assert eps["confirm"]["params"]["client_secret"]["not_in_sdk"] is True
    assert eps["cancel"]["params"]["cancellation_reason"]["enum_open"] is True
    assert eps["verify_microdeposits"]["params"]["amounts"] == {"type": "array", "items": {"type": "integer"}}
    assert eps["list"]["rules"] == [{"exclusive": ["ending_before", "starting_after"]}]
    assert eps["list_amount_details_line_items"]["rules"] == [{"exclusive": ["ending_before", "starting_after"]}]
    assert eps["create"]["rules"] == [{"exclusive": ["automatic_payment_methods", "confirmation_method"]}]
    assert sum(len(ep["rules"]) for ep in eps.values()) == 3
    sup = schema["currencies"]["supported"]
    assert "usd" in sup and "eur" in sup and "jpy" in sup and len(sup) == 138, len(sup)


def render(schema: dict) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------------------
# The whole API: schema/stripe-api.json.

API_SCHEMA_VERSION = 1
API_SCHEMA_NAME = "Stripe API: every v1 and v2 endpoint of stripe-python"
# The verbs an SDK method name can carry (CRUD), and the HTTP method each goes with.
STANDARD_VERBS = {"list": "GET", "create": "POST", "retrieve": "GET", "update": "POST", "delete": "DELETE"}
API_PARAM_TYPES = PARAM_TYPES | {"file"}
# What stripe-api.json's Params may carry: the SDK-derived part of PARAM_KEYS, plus `values`
# (hash values), `nullable` (JSON null) and `format: "decimal"`.
API_PARAM_KEYS = {"type", "types", "required", "enum", "emptyable", "items", "children", "values", "nullable", "format"}
API_ENDPOINT_KEYS = {"method", "path", "encoding", "host", "params", "see", "sdk"}
SEGMENT = re.compile(r"[a-z0-9_]+")
PLACEHOLDER = re.compile(r"\{[a-z0-9_]+\}")


def operation_name(method: str, path: str, verb: str) -> tuple[str | None, str]:
    """(operation name, rule applied) for a request and the SDK method name that makes it;
    (None, reason) when the rule does not apply.

    The name is the path's literal segments after the version (placeholders dropped; `v2.`
    first for /v2), then a verb:
      1. action: the path ends in a literal segment and the SDK method is named after it
         (`attach`, `search`, `finalize_invoice` for .../finalize): that segment is the verb;
      2. or the SDK method is a CRUD verb (list, create, retrieve, update, delete),
         possibly with a suffix (`retrieve_current`, `delete_discount`), that goes with the
         request's HTTP method: that verb is appended;
      3. otherwise the SDK method's name is appended (DELETE /v1/subscriptions/{id}:
         `subscriptions.cancel`).
    When several SDK methods make the same request, the name from the lowest-numbered rule
    wins (build_api)."""
    segments = path.split("/")
    if segments[0] != "" or segments[1] not in ("v1", "v2") or len(segments) < 3:
        return None, f"path {path} is not under /v1/ or /v2/"
    rest = segments[2:]
    literals = []
    for segment in rest:
        if PLACEHOLDER.fullmatch(segment):
            continue
        if not SEGMENT.fullmatch(segment):
            return None, f"path segment {segment!r} is neither a name nor a {{placeholder}}"
        literals.append(segment)
    if not literals:
        return None, "no literal path segment"
    prefix = [] if segments[1] == "v1" else ["v2"]
    last = rest[-1]
    if not PLACEHOLDER.fullmatch(last) and (verb == last or verb.startswith(last + "_")):
        return ".".join(prefix + literals), "action"
    for standard, http in STANDARD_VERBS.items():
        if (verb == standard or verb.startswith(standard + "_")) and method == http:
            return ".".join(prefix + literals + [standard]), "verb"
    if not SEGMENT.fullmatch(verb):
        return None, f"SDK method name {verb!r}"
    return ".".join(prefix + literals + [verb]), "method"


def build_api(tree: dict) -> dict:
    """schema/stripe-api.json from the introspected operations."""
    hosts = {}
    for base, url in tree.get("base_addresses", {}).items():
        m = re.fullmatch(r"https://([a-z0-9.-]+)", url)
        if not m:
            fail(f"base address {base} is {url!r}, not https://host")
        hosts[base] = m.group(1)
    groups = {}
    for op in tree.get("operations", []):
        groups.setdefault((op["method"], op["path"]), []).append(op)
    if len(groups) < 600:
        fail(f"only {len(groups)} endpoints found in stripe-python {STRIPE_PYTHON[1]}")

    pi_endpoints = {(method, path): name for name, (method, path, _) in ENDPOINTS.items()}
    endpoints, unmapped = {}, []
    for (method, path), ops in sorted(groups.items()):
        names, reasons, ranks = set(), [], {"action": 1, "verb": 2, "method": 3}
        for op in ops:
            name, why = operation_name(method, path, op["verb"])
            if name is None:
                reasons.append(f"{op['sdk']}: {why}")
            else:
                names.add((ranks[why], name))
        best = min(names, default=(0, None))[0]
        names = {name for rank, name in names if rank == best}
        if len(names) != 1:
            unmapped.append(f"{method} {path}: " + ("; ".join(reasons) if not names else f"several names {sorted(names)}"))
            continue
        (name,) = names
        # The same request made by several SDK methods (DELETE /v1/customers/{customer}/sources/{id}:
        # customers.payment_sources.delete and sources.detach) must describe it alike.
        first = ops[0]
        for op in ops[1:]:
            for key in ("params", "base_address", "multipart"):
                if op[key] != first[key]:
                    fail(f"{method} {path}: {first['sdk']} and {op['sdk']} differ in {key}")
        if first["base_address"] not in hosts:
            fail(f"{method} {path}: unknown base address {first['base_address']}")
        if first["multipart"]:
            if method != "POST":
                fail(f"{method} {path}: multipart without a body")
            encoding = "multipart"
        elif method != "POST":
            encoding = "query"
        else:
            encoding = "form" if path.startswith("/v1/") else "json"
        endpoint = {
            "method": method,
            "path": path,
            "encoding": encoding,
            "sdk": sorted(op["sdk"] for op in ops),
        }
        if hosts[first["base_address"]] != hosts["api"]:
            endpoint["host"] = hosts[first["base_address"]]
        if (method, path) in pi_endpoints:
            # Payment Intents: the richer schema (constraints.json applied) is the reference.
            endpoint["see"] = {"file": os.path.basename(SCHEMA_PATH), "endpoint": pi_endpoints[(method, path)]}
        else:
            endpoint["params"] = first["params"]
        if name in endpoints:
            fail(f"operation name {name} for both {endpoints[name]['method']} {endpoints[name]['path']} "
                 f"and {method} {path}")
        endpoints[name] = endpoint
    if unmapped:
        fail("requests the operation-naming rule cannot name:\n" + "\n".join(f"  - {u}" for u in unmapped))
    missing = set(pi_endpoints) - set(groups)
    if missing:
        fail(f"Payment Intents endpoints stripe-python does not call: {sorted(missing)}")

    provenance = [
        "endpoints (method, path template, encoding, host): static analysis (ast) of the "
        f"StripeClient services of stripe-python {STRIPE_PYTHON[1]} (PyPI wheel sha256 "
        f"{STRIPE_PYTHON[2]}; API version {tree.get('api_version')}), client.v1.* and "
        "client.v2.*, plus the requests only its resource classes make (sdk stripe.*); "
        "by scripts/gen-schema.py",
        "parameters (names, types, required, enums, \"\" allowed, null allowed), at every "
        "depth: the stripe/params TypedDict each of those methods takes, introspected",
        "operation names: scripts/gen-schema.py operation_name() (schema/README.md)",
        f"Payment Intents: parameters in {os.path.basename(SCHEMA_PATH)} (see), which adds "
        "schema/constraints.json",
    ]
    return {
        "api_schema_version": API_SCHEMA_VERSION,
        "name": API_SCHEMA_NAME,
        "provenance": provenance,
        "endpoints": endpoints,
    }


def check_api_contract(param: dict, where: str) -> None:
    """Every Param of stripe-api.json uses only its keys and consistent shapes."""
    assert set(param) <= API_PARAM_KEYS, (where, set(param) - API_PARAM_KEYS)
    assert ("type" in param) != ("types" in param), where
    kinds = [param["type"]] if "type" in param else param["types"]
    assert all(k in API_PARAM_TYPES for k in kinds), (where, kinds)
    if "types" in param:
        assert len(kinds) > 1 and kinds == sorted(kinds), where
        assert not {"array", "file"} & set(kinds), where
    assert ("items" in param) == ("array" in kinds), where
    assert ("children" in param) == ("object" in kinds), where
    assert "values" not in param or "hash" in kinds, where
    for flag in ("required", "emptyable", "nullable"):
        assert param.get(flag, True) is True, (where, flag)
    if "enum" in param:
        assert "string" in kinds and param["enum"] == sorted(param["enum"]), where
        # An empty enum: "" is the only value accepted.
        assert param["enum"] or (param.get("emptyable") and kinds == ["string"]), where
        assert "" not in param["enum"], where
    assert param.get("format", "decimal") == "decimal", where
    assert "format" not in param or kinds == ["string"], where
    for child, sub in param.get("children", {}).items():
        assert SEGMENT.fullmatch(child), (where, child)
        check_api_contract(sub, f"{where}.{child}")
    for key, suffix in (("items", "[]"), ("values", "{}")):
        if key in param:
            assert "required" not in param[key], where
            check_api_contract(param[key], where + suffix)


def api_sanity_checks(schema: dict) -> None:
    assert set(schema) == {"api_schema_version", "name", "provenance", "endpoints"}, sorted(schema)
    eps = schema["endpoints"]
    assert len(eps) >= 600, len(eps)
    seen = set()
    for name, ep in eps.items():
        assert re.fullmatch(r"(v2\.)?[a-z0-9_]+(\.[a-z0-9_]+)+", name), name
        assert set(ep) <= API_ENDPOINT_KEYS, (name, set(ep) - API_ENDPOINT_KEYS)
        assert ep["method"] in ("GET", "POST", "DELETE"), name
        assert (ep["method"], ep["path"]) not in seen, name
        seen.add((ep["method"], ep["path"]))
        v2 = ep["path"].startswith("/v2/")
        assert name.startswith("v2.") == v2, name
        assert ep["encoding"] == (
            "query" if ep["method"] != "POST" else "multipart" if ep["path"] == "/v1/files"
            else "json" if v2 else "form"
        ), name
        assert ep["sdk"] and ep["sdk"] == sorted(ep["sdk"]), name
        assert ("params" in ep) != ("see" in ep), name
        for p, param in ep.get("params", {}).items():
            assert SEGMENT.fullmatch(p), (name, p)
            check_api_contract(param, f"{name}.{p}")
    # Payment Intents point at the richer file, all twelve of them.
    see = {ep["see"]["endpoint"]: ep for ep in eps.values() if "see" in ep}
    assert set(see) == set(ENDPOINTS), sorted(see)
    for key, ep in see.items():
        assert (ep["method"], ep["path"]) == ENDPOINTS[key][:2], key
    assert eps["payment_intents.create"]["see"] == {"file": "stripe-payment-intents.json", "endpoint": "create"}
    assert eps["payment_intents.amount_details_line_items.list"]["see"]["endpoint"] == "list_amount_details_line_items"
    assert eps["payment_intents.search"]["path"] == "/v1/payment_intents/search"
    assert not any("payment_intents" in ep["path"].split("/")[2:3] for ep in eps.values() if "params" in ep)

    def ep(name, method, path, encoding="form"):
        e = eps[name]
        assert (e["method"], e["path"], e["encoding"]) == (method, path, encoding), (name, e)
        return e.get("params")

    # The names of issue #18, nested paths included.
    c = ep("customers.create", "POST", "/v1/customers")
    assert c["email"] == {"type": "string"}, c["email"]
    assert c["metadata"] == {"type": "hash", "emptyable": True}, c["metadata"]
    assert c["address"]["type"] == "object" and c["address"]["emptyable"] is True
    assert c["address"]["children"]["line1"] == {"type": "string"}
    assert ep("customers.retrieve", "GET", "/v1/customers/{customer}", "query").keys() == {"expand"}
    assert "email" in ep("customers.update", "POST", "/v1/customers/{customer}")
    assert ep("customers.delete", "DELETE", "/v1/customers/{customer}", "query") == {}
    assert ep("customers.list", "GET", "/v1/customers", "query")["limit"] == {"type": "integer"}
    assert ep("customers.search", "GET", "/v1/customers/search", "query")["query"]["required"] is True
    assert ep("customers.sources.retrieve", "GET", "/v1/customers/{customer}/sources/{id}", "query") is not None
    assert eps["customers.sources.delete"]["sdk"] == ["v1.customers.payment_sources.delete", "v1.sources.detach"]
    assert ep("customers.discount.delete", "DELETE", "/v1/customers/{customer}/discount", "query") == {}
    assert ep("account.retrieve", "GET", "/v1/account", "query") is not None
    attach = ep("payment_methods.attach", "POST", "/v1/payment_methods/{payment_method}/attach")
    # Not required in stripe-python 16 (API 2026-10-28): `customer` or `customer_account`.
    assert attach["customer"] == {"type": "string"}, attach["customer"]
    assert attach["customer_account"] == {"type": "string"}, attach["customer_account"]
    assert "payment_methods.detach" in eps and "payment_methods.create" in eps
    assert ep("refunds.create", "POST", "/v1/refunds")["payment_intent"] == {"type": "string"}
    assert ep("charges.refunds.list", "GET", "/v1/charges/{charge}/refunds", "query")["limit"]["type"] == "integer"
    assert eps["charges.refunds.retrieve"]["sdk"] == ["stripe.Charge.retrieve_refund"]
    assert "mode" in ep("checkout.sessions.create", "POST", "/v1/checkout/sessions")
    ep("checkout.sessions.line_items.list", "GET", "/v1/checkout/sessions/{session}/line_items", "query")
    assert "usage" in ep("setup_intents.create", "POST", "/v1/setup_intents")
    ep("setup_intents.confirm", "POST", "/v1/setup_intents/{intent}/confirm")
    ep("balance.retrieve", "GET", "/v1/balance", "query")
    ep("events.list", "GET", "/v1/events", "query")
    ep("invoices.finalize", "POST", "/v1/invoices/{invoice}/finalize")
    ep("invoices.create_preview", "POST", "/v1/invoices/create_preview")
    assert eps["invoices.finalize"]["sdk"] == ["v1.invoices.finalize_invoice"]
    # An SDK method named like a CRUD verb it is not (create_preview) stays an action.
    assert "invoices.create_preview.create" not in eps
    secret = ep("webhook_endpoints.create", "POST", "/v1/webhook_endpoints")
    assert secret["url"]["required"] is True and secret["enabled_events"]["type"] == "array"
    # Other shapes: multipart upload on files.stripe.com, decimal strings, hashes of objects.
    f = ep("files.create", "POST", "/v1/files", "multipart")
    assert eps["files.create"]["host"] == "files.stripe.com"
    assert f["file"] == {"type": "file", "required": True}, f["file"]
    assert f["purpose"]["required"] is True and "dispute_evidence" in f["purpose"]["enum"]
    assert eps["quotes.pdf"]["host"] == "files.stripe.com"
    price = ep("prices.create", "POST", "/v1/prices")
    assert price["unit_amount_decimal"] == {"type": "string", "format": "decimal"}, price["unit_amount_decimal"]
    options = price["currency_options"]
    assert options["type"] == "hash" and options["values"]["type"] == "object", options
    assert "unit_amount" in options["values"]["children"]
    assert eps["invoiceitems.update"]["params"]["invoicing_rules"] == {"type": "string", "emptyable": True, "enum": []}
    # v2: JSON bodies, null-able values.
    dest = ep("v2.core.event_destinations.create", "POST", "/v2/core/event_destinations", "json")
    assert dest["name"]["required"] is True and dest["type"]["enum"], dest
    assert ep("v2.core.event_destinations.list", "GET", "/v2/core/event_destinations", "query") is not None
    meta = ep("v2.core.event_destinations.update", "POST", "/v2/core/event_destinations/{id}", "json")["metadata"]
    assert meta == {"type": "hash", "values": {"type": "string", "nullable": True}}, meta
    ep("v2.billing.meter_events.create", "POST", "/v2/billing/meter_events", "json")
    ep("billing.meter_events.create", "POST", "/v1/billing/meter_events")
    assert eps["v2.billing.meter_event_stream.create"]["host"] == "meter-events.stripe.com"
    pct = find(ep("v2.core.accounts.persons.create", "POST", "/v2/core/accounts/{account_id}/persons", "json"),
               "relationship[percent_ownership]")
    assert pct == {"type": "string", "format": "decimal"}, pct
    v1 = [n for n, e in eps.items() if e["path"].startswith("/v1/")]
    v2 = [n for n, e in eps.items() if e["path"].startswith("/v2/")]
    assert len(v1) >= 500 and len(v2) >= 80, (len(v1), len(v2))
    assert sum(1 for e in eps.values() if "host" in e) == 3


def render_api(schema: dict) -> str:
    """Sorted keys throughout; one endpoint per line (compact JSON), one provenance line per
    line, so a diff shows which endpoints changed."""
    def compact(value):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    out = ["{"]
    keys = sorted(schema)
    for i, key in enumerate(keys):
        comma = "," if i < len(keys) - 1 else ""
        value = schema[key]
        if key in ("endpoints", "provenance"):
            opener, closer = ("{", "}") if key == "endpoints" else ("[", "]")
            out.append(f"{compact(key)}:{opener}")
            items = sorted(value.items()) if key == "endpoints" else [(None, v) for v in value]
            for j, (name, item) in enumerate(items):
                head = f"{compact(name)}:" if name is not None else ""
                out.append(head + compact(item) + ("," if j < len(items) - 1 else ""))
            out.append(closer + comma)
        else:
            out.append(f"{compact(key)}:{compact(value)}{comma}")
    out.append("}")
    text = "\n".join(out) + "\n"
    assert json.loads(text) == schema
    return text


def generate() -> dict[str, str]:
    """{path: text} for both files (SCHEMA_PATH, API_SCHEMA_PATH); SchemaError if a check
    fails, SetupError if an input is missing. Both or nothing."""
    try:
        with open(CONSTRAINTS_PATH, "rb") as f:
            raw = f.read()
        constraints = json.loads(raw)
    except (OSError, ValueError) as e:
        raise SetupError(f"cannot read {CONSTRAINTS_PATH}: {e}") from e
    tree = sdk_tree()
    schema = build(tree, constraints, hashlib.sha256(raw).hexdigest())
    problems = check_seed(schema)
    if problems:
        fail(
            "seed-documented parameters (shared/seeds/003_c6ee5c632c2d533d.txt) do not match "
            "the schema:\n" + "\n".join(f"  - {p}" for p in problems)
        )
    try:
        sanity_checks(schema)
    except (AssertionError, SchemaError) as e:
        raise SchemaError(f"sanity check failed: {e!r}") from e
    api = build_api(tree)
    try:
        api_sanity_checks(api)
        api_text = render_api(api)
    except (AssertionError, KeyError, TypeError, SchemaError) as e:
        raise SchemaError(f"sanity check failed ({os.path.basename(API_SCHEMA_PATH)}): {e!r}") from e
    return {SCHEMA_PATH: render(schema), API_SCHEMA_PATH: api_text}


def log(msg: str) -> None:
    print(f"gen-schema: {msg}", file=sys.stderr)


def check_file(path: str, text: str) -> int:
    """0 if the committed file is `text`; 1 with a short diff if not; 2 if unreadable."""
    name = os.path.relpath(path, REPO_ROOT)
    try:
        with open(path, encoding="utf-8") as f:
            committed = f.read()
    except OSError as e:
        log(f"error: cannot read {path}: {e}")
        return 2
    if committed == text:
        log(f"{name} is up to date")
        return 0
    diff = list(difflib.unified_diff(
        committed.splitlines(), text.splitlines(),
        f"{name} (committed)", "scripts/gen-schema.py (generated)",
        lineterm="", n=2,
    ))
    shown = 60
    # stripe-api.json has one endpoint per line: cut long lines.
    sys.stderr.write("\n".join(line if len(line) <= 300 else line[:300] + " ..." for line in diff[:shown]) + "\n")
    if len(diff) > shown:
        log(f"... {len(diff) - shown} more diff lines")
    log(f"error: the committed {name} is not what the script makes; run "
        "python3 scripts/gen-schema.py --write and review the diff")
    return 1


def write_file(path: str, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".schema-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)
    log(f"wrote {os.path.relpath(path, REPO_ROOT)} ({len(text.encode('utf-8'))} bytes)")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description="Generate schema/stripe-payment-intents.json and schema/stripe-api.json "
        "from the pinned stripe-python release and schema/constraints.json.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="compare both files with the committed ones; exit 1 with a short diff if one differs")
    mode.add_argument("--write", action="store_true",
                      help="write both files (only if every check passes)")
    mode.add_argument("--api", action="store_true",
                      help="print schema/stripe-api.json instead of schema/stripe-payment-intents.json")
    mode.add_argument("--introspect", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.introspect:
        # Inside the venv (see sdk_tree): print the SDK's parameter trees as JSON.
        try:
            tree = introspect()
        except (SchemaError, SetupError) as e:
            log(f"error: {e}")
            return 1
        json.dump(tree, sys.stdout, sort_keys=True)
        return 0

    try:
        texts = generate()
    except SetupError as e:
        log(f"error: {e}")
        return 2
    except SchemaError as e:
        log(f"error: {e}")
        return 1

    if args.check:
        return max(check_file(path, text) for path, text in texts.items())

    if args.write:
        for path, text in texts.items():
            write_file(path, text)
        return 0

    sys.stdout.buffer.write(texts[API_SCHEMA_PATH if args.api else SCHEMA_PATH].encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
