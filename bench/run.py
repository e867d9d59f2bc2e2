#!/usr/bin/env python3
"""stripe-vcr's benchmark: replay against a static TLS baseline, at scale,
for new connections and for record overhead, plus the hot-path
micro-benchmark. Writes bench/RESULTS.md.

    python3 bench/run.py            # full run (about 15 minutes on 2 cores)
    BENCH_SECS=3 BENCH_RUNS=1 python3 bench/run.py   # a quick look

Needs: `oha` (`cargo install oha --locked`), `taskset` (util-linux), curl,
and for the issue's reference baseline nginx and openssl (Debian: `apt-get
install nginx-light openssl`; skipped with a note when absent).
Only 127.0.0.1 is used. Standard library only.
"""

import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "target" / "bench"
REL = ROOT / "target" / "release"
SECS = int(os.environ.get("BENCH_SECS", "10"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SERVER_CPU, LOAD_CPU = "0", "1"
KEY = "sk_test_bench_key_0000000000000000"
VERSION = "2026-07-29.dahlia"
CREATE_BODY = ("amount=2000&currency=usd&description=Order+6735&metadata[order_id]=6735"
               "&metadata[customer_ref]=cr_991&metadata[channel]=web&payment_method_types[0]=card")
# The same create as a JSON body (another order, so a recording of its own).
CREATE_JSON = json.dumps({"amount": 2000, "currency": "usd", "description": "Order 6736",
                          "metadata": {"order_id": "6736", "customer_ref": "cr_991", "channel": "web"},
                          "payment_method_types": ["card"]}, separators=(",", ":"))


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def start(cmd, ready_pattern, cpu=None):
    """Starts a server, waits for `ready_pattern` on its stdout; returns (proc, match)."""
    if cpu is not None:
        cmd = ["taskset", "-c", cpu, *cmd]
    out = open(WORK / f"{Path(cmd[3] if cpu else cmd[0]).name}-{time.time_ns()}.out", "w+")
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, env={**os.environ, "RUST_LOG": "stripe_vcr=info"})
    deadline = time.time() + 60
    while time.time() < deadline:
        out.seek(0)
        m = re.search(ready_pattern, out.read())
        if m:
            return proc, m
        if proc.poll() is not None:
            raise SystemExit(f"{cmd} exited early")
        time.sleep(0.05)
    raise SystemExit(f"{cmd} did not become ready")


def stop(proc):
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def peak_rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def oha(url, ca, conns, http2=False, method="GET", body=None, keepalive=True, secs=SECS, proxy=None,
        content_type="application/x-www-form-urlencoded", rate=None):
    cmd = ["taskset", "-c", LOAD_CPU, "oha", "--no-tui", "--output-format", "json", "-z", f"{secs}s",
           "-c", str(conns), "--cacert", str(ca), "-H", f"Authorization: Bearer {KEY}",
           "-H", f"Stripe-Version: {VERSION}", "-m", method]
    if http2:
        cmd.append("--http2")
    if rate:
        cmd += ["-q", str(rate)]
    if body is not None:
        cmd += ["-d", body, "-T", content_type]
    if not keepalive:
        cmd.append("--disable-keepalive")
    if proxy:
        cmd += ["-x", proxy]
    cmd.append(url)
    res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    codes = res.get("statusCodeDistribution", {})
    bad = {k: v for k, v in codes.items() if k not in ("200",)}
    if bad:
        log(f"  unexpected statuses {bad} from {url}")
    p = res["latencyPercentiles"]
    return {"rps": res["summary"]["requestsPerSec"], "p50": p["p50"] * 1e3, "p99": p["p99"] * 1e3,
            "p999": p["p99.9"] * 1e3, "ok": sum(v for k, v in codes.items() if k == "200")}


def median_of(runs):
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def record_fixture():
    """Records the four benchmark requests through stripe-vcr from the seeded stand-in."""
    cas = WORK / "cassettes"
    standin, m = start([str(REL / "stripe-vcr-standin"), "--listen", "127.0.0.1:0", "--cert-out",
                        str(WORK / "standin.pem"), "--seed", "7"], r"listening on (https://\S+)")
    upstream = m.group(1)
    rec, m = start([str(REL / "stripe-vcr"), "record", "--upstream", upstream, "--upstream-ca",
                    str(WORK / "standin.pem"), "--listen", "127.0.0.1:0", "--cassettes", str(cas),
                    "--certs", str(WORK / "certs")], r"listening   https://127\.0\.0\.1:(\d+)")
    base = f"https://127.0.0.1:{m.group(1)}"
    curl = ["curl", "-sS", "--cacert", str(WORK / "certs" / "ca.pem"), "-H", f"Authorization: Bearer {KEY}",
            "-H", f"Stripe-Version: {VERSION}"]
    created = json.loads(subprocess.run([*curl, f"{base}/v1/payment_intents", "-d", CREATE_BODY],
                                        check=True, capture_output=True, text=True).stdout)
    pid = created["id"]
    sh(*curl, "-H", "Content-Type: application/json", f"{base}/v1/payment_intents", "-d", CREATE_JSON,
       stdout=subprocess.DEVNULL)
    # Two more intents for the list, recorded into another set so the
    # baseline (which reads the top directory only) serves this create's bytes.
    for extra in ("amount=1500&currency=usd", "amount=3000&currency=eur"):
        sh(*curl, "-H", "Stripe-Vcr-Cassette: extra", f"{base}/v1/payment_intents", "-d", extra, stdout=subprocess.DEVNULL)
    sh(*curl, f"{base}/v1/payment_intents/{pid}", stdout=subprocess.DEVNULL)
    sh(*curl, f"{base}/v1/payment_intents?limit=3", stdout=subprocess.DEVNULL)
    stop(rec)
    stop(standin)
    retrieve = next(p for p in cas.glob("retrieve-*.json"))
    return pid, upstream, retrieve


def sizes(cas, pid):
    out = {}
    for p in cas.glob("*.json"):
        c = json.loads(p.read_text())
        r = c["request"]
        if r["method"] == "GET" and r["path"].endswith(pid):
            out["retrieve"] = len(json.dumps(c["response"]["body"], indent=2))
        if r["method"] == "GET" and r["path"] == "/v1/payment_intents":
            out["list"] = len(json.dumps(c["response"]["body"], indent=2))
        if r["method"] == "POST" and "metadata" in r.get("params", {}):
            out["json" if r.get("body_encoding") == "json" else "create"] = len(json.dumps(c["response"]["body"], indent=2))
    return out


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def nginx_quote(text):
    """A single-quoted nginx string; `$` would start a variable, so refuse it."""
    if "$" in text:
        raise SystemExit(f"a recorded header contains `$`, which nginx would expand: {text}")
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def replayed_body(body):
    """The body bytes stripe-vcr serves for a cassette: its JSON, pretty-printed as recorded."""
    return json.dumps(body, indent=2, ensure_ascii=False).encode()


HOP_BY_HOP = {"connection", "content-length", "content-type", "date", "server", "transfer-encoding", "keep-alive"}


def start_nginx(cas):
    """nginx from Debian serving every top-level cassette's recorded status, headers and body with
    `return` (no proxy logic), one worker, Debian's default access log on (as stripe-vcr logs each
    request by default), keep-alive without a request cap. Returns (proc, port, worker pid)."""
    ngx = WORK / "nginx"
    ngx.mkdir(exist_ok=True)
    # A P-256 leaf for 127.0.0.1 signed by the same local CA stripe-vcr and the hyper baseline
    # use, like the leaves stripe-vcr mints; oha trusts that CA for every server.
    certs = WORK / "certs"
    sh("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
       "-keyout", str(ngx / "key.pem"), "-out", str(ngx / "leaf.csr"), "-subj", "/CN=127.0.0.1",
       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    (ngx / "leaf.ext").write_text("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                                  "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n")
    sh("openssl", "x509", "-req", "-in", str(ngx / "leaf.csr"), "-CA", str(certs / "ca.pem"), "-CAkey",
       str(certs / "ca-key.pem"), "-CAcreateserial", "-days", "2", "-extfile", str(ngx / "leaf.ext"),
       "-out", str(ngx / "leaf.pem"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    (ngx / "cert.pem").write_text((ngx / "leaf.pem").read_text() + (certs / "ca.pem").read_text())
    # Each body goes in a file (nginx caps a config token at 4 KB); a location per request
    # rewrites to it, and the file's location adds the recorded headers. nginx's static
    # handler refuses POST with 405, so POSTs are turned into the file's 200 by error_page.
    (ngx / "bodies").mkdir(exist_ok=True)
    by_path, files = {}, []
    for n, p in enumerate(sorted(cas.glob("*.json"))):
        c = json.loads(p.read_text())
        req, resp = c["request"], c["response"]
        if resp.get("status") != 200 or "body" not in resp:
            continue
        body_file = ngx / "bodies" / f"{n}.json"
        body_file.write_bytes(replayed_body(resp["body"]))
        headers = [(k, v) for k, v in resp.get("headers", {}).items() if k.lower() not in HOP_BY_HOP]
        adds = "".join(f"        add_header {k} {nginx_quote(str(v))} always;\n" for k, v in headers)
        files.append(f"    location = /__body/{n}.json {{\n        internal;\n        alias {body_file};\n"
                     f"        default_type application/json;\n        etag off;\n        error_page 405 =200 $uri;\n"
                     f"{adds}    }}")
        # Matched on method and path, as the hyper baseline does.
        by_path.setdefault(req["path"], []).append(
            f"        if ($request_method = {req['method']}) {{ rewrite ^ /__body/{n}.json last; }}")
    blocks = [f"    location = {path} {{\n" + "\n".join(rules) + "\n        return 404;\n    }"
              for path, rules in by_path.items()] + files
    port = free_port()
    conf = ngx / "nginx.conf"
    conf.write_text(f"""worker_processes 1;
daemon off;
pid {ngx}/nginx.pid;
error_log {ngx}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {ngx}/access.log;
    keepalive_requests 10000000;
    client_body_temp_path {ngx}/body;
    server {{
        listen 127.0.0.1:{port} ssl http2;
        ssl_certificate {ngx}/cert.pem;
        ssl_certificate_key {ngx}/key.pem;
        ssl_protocols TLSv1.3;
{chr(10).join(blocks)}
    }}
}}
""")
    proc = subprocess.Popen(["taskset", "-c", SERVER_CPU, "nginx", "-c", str(conf), "-p", str(ngx)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"nginx exited early: {(ngx / 'error.log').read_text()}")
            time.sleep(0.05)
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    return proc, port, int(children[0]) if children else proc.pid


def server_cmd(kind, cas, certs):
    if kind == "baseline":
        return [str(REL / "examples" / "bench-baseline"), "127.0.0.1:0", str(cas), str(certs)], r"listening on https://127\.0\.0\.1:(\d+)"
    return [str(REL / "stripe-vcr"), "replay", "--listen", "127.0.0.1:0", "--cassettes", str(cas), "--certs",
            str(certs)], r"listening   https://127\.0\.0\.1:(\d+)"


KINDS = ["baseline", "nginx", "stripe-vcr"]
NOTES_MARKER = "<!-- Hand-written notes: bench/run.py keeps everything below this line. -->"


def throughput(pid):
    cas, certs = WORK / "cassettes", WORK / "certs"
    requests = REQUESTS(pid)
    results = {}
    for kind in KINDS:
        if kind == "nginx":
            proc, port, rss_pid = start_nginx(cas)
            ca = certs / "ca.pem"
        else:
            cmd, ready = server_cmd(kind, cas, certs)
            proc, m = start(cmd, ready, cpu=SERVER_CPU)
            port, rss_pid, ca = m.group(1), proc.pid, certs / "ca.pem"
        base = f"https://127.0.0.1:{port}"
        for name, req in requests.items():
            for http2 in (False, True):
                for conns in (16, 32):
                    runs = [oha(base + req["path"], ca, conns, http2=http2, method=req.get("method", "GET"),
                                body=req.get("body"), content_type=req.get("content_type", "application/x-www-form-urlencoded"))
                            for _ in range(RUNS)]
                    results[(kind, name, http2, conns)] = median_of(runs)
                    r = results[(kind, name, http2, conns)]
                    log(f"  {kind:10} {name:20} {'h2' if http2 else 'h1'} c={conns}: {r['rps']:.0f} req/s p99 {r['p99']:.2f} ms")
        results[(kind, "peak_rss")] = peak_rss_mib(rss_pid)
        stop(proc)
        if rss_pid != proc.pid:  # nginx's worker, should it outlive its master
            try:
                os.kill(rss_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return results


# Requests per second for the fixed-rate latency cells: under every
# server's limit here, so the latency is the server's own and not the
# queue in front of a saturated server or load generator.
FIXED_RATE = 50_000


def REQUESTS(pid):
    return {
        "GET retrieve": dict(path=f"/v1/payment_intents/{pid}"),
        "GET list?limit=3": dict(path="/v1/payment_intents?limit=3"),
        "POST create (form)": dict(path="/v1/payment_intents", method="POST", body=CREATE_BODY),
        "POST create (JSON)": dict(path="/v1/payment_intents", method="POST", body=CREATE_JSON,
                                   content_type="application/json"),
    }


def fixed_rate(pid):
    """p50/p99 at FIXED_RATE requests per second, 16 connections, for the hyper baseline and stripe-vcr.

    At full speed the fastest servers leave the load generator (one core) as the bottleneck, and
    its own queue shows up as a multi-millisecond p99 for the hyper baseline too; at a rate both
    sides can keep up with, the latency is the server's."""
    cas, certs = WORK / "cassettes", WORK / "certs"
    out = {}
    for kind in ("baseline", "stripe-vcr"):
        cmd, ready = server_cmd(kind, cas, certs)
        proc, m = start(cmd, ready, cpu=SERVER_CPU)
        base = f"https://127.0.0.1:{m.group(1)}"
        for name, req in REQUESTS(pid).items():
            for http2 in (False, True):
                runs = [oha(base + req["path"], certs / "ca.pem", 16, http2=http2, method=req.get("method", "GET"),
                            body=req.get("body"), content_type=req.get("content_type", "application/x-www-form-urlencoded"),
                            rate=FIXED_RATE) for _ in range(RUNS)]
                out[(kind, name, http2)] = median_of(runs)
                r = out[(kind, name, http2)]
                log(f"  {kind:10} {name:20} {'h2' if http2 else 'h1'} at {FIXED_RATE}/s: p99 {r['p99']:.2f} ms")
        stop(proc)
    return out


def fixed_rate_table(fr):
    L = [f"## Latency at a fixed {FIXED_RATE:,} requests per second (16 connections)\n",
         "| request | proto | hyper p50 ms | hyper p99 ms | stripe-vcr p50 ms | stripe-vcr p99 ms | stripe-vcr p99.9 ms |",
         "|---|---|---:|---:|---:|---:|---:|"]
    for name in REQUESTS("x"):
        for http2 in (False, True):
            b, s = fr[("baseline", name, http2)], fr[("stripe-vcr", name, http2)]
            L.append(f"| {name} | {'HTTP/2' if http2 else 'HTTP/1.1'} | {b['p50']:.2f} | {b['p99']:.2f} | "
                     f"{s['p50']:.2f} | {s['p99']:.2f} | {s['p999']:.2f} |")
    return L


def scale(template):
    rows = []
    for n in (1_000, 10_000, 100_000):
        cas = WORK / f"scale-{n}"
        if not cas.exists():
            sh(str(REL / "examples" / "bench-gen"), str(template), str(cas), str(n), stdout=subprocess.DEVNULL)
        disk = sum(p.stat().st_size for p in cas.iterdir()) / 2**20
        t0 = time.time()
        cmd, ready = server_cmd("stripe-vcr", cas, WORK / "certs")
        proc, m = start(cmd, ready, cpu=SERVER_CPU)
        base = f"https://127.0.0.1:{m.group(1)}"
        startup = time.time() - t0
        rss = rss_mib(proc.pid)
        r = median_of([oha(f"{base}/v1/payment_intents/pi_{n // 2:024}", WORK / "certs" / "ca.pem", 16)
                       for _ in range(max(1, RUNS - 1))])
        stop(proc)
        rows.append((n, startup, rss, disk, r["rps"], r["p99"]))
        log(f"  scale {n}: start {startup:.2f}s rss {rss:.1f} MiB (disk {disk:.1f} MiB) {r['rps']:.0f} req/s")
    return rows


def handshakes(pid):
    cas, certs = WORK / "cassettes", WORK / "certs"
    out = {}
    for kind in ("baseline", "stripe-vcr"):
        cmd, ready = server_cmd(kind, cas, certs)
        proc, m = start(cmd, ready, cpu=SERVER_CPU)
        base = f"https://127.0.0.1:{m.group(1)}"
        out[kind] = median_of([oha(f"{base}/v1/payment_intents/{pid}", certs / "ca.pem", 16, keepalive=False)
                               for _ in range(RUNS)])
        if kind == "stripe-vcr":
            # CONNECT tunnels: the first to a host mints its leaf certificate, later ones reuse it.
            times = []
            for _ in range(3):
                t = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{time_appconnect}", "--cacert",
                                    str(certs / "ca.pem"), "-x", base.replace("https", "http"), "-H",
                                    f"Authorization: Bearer {KEY}", f"https://api.stripe.com/v1/payment_intents/{pid}"],
                                   check=True, capture_output=True, text=True).stdout
                times.append(float(t) * 1e3)
            out["connect_first_ms"], out["connect_cached_ms"] = times[0], statistics.median(times[1:])
        stop(proc)
    return out


def record_overhead(pid, upstream_url):
    """p50 of GET retrieve: straight to the stand-in, and through `record`."""
    cas = WORK / "record-overhead"
    shutil.rmtree(cas, ignore_errors=True)
    standin, m = start([str(REL / "stripe-vcr-standin"), "--listen", "127.0.0.1:0", "--cert-out",
                        str(WORK / "standin2.pem"), "--seed", "7"], r"listening on (https://\S+)")
    upstream = m.group(1)
    created = json.loads(subprocess.run(["curl", "-sS", "--cacert", str(WORK / "standin2.pem"), "-u", f"{KEY}:",
                                         f"{upstream}/v1/payment_intents", "-d", "amount=100&currency=usd"],
                                        check=True, capture_output=True, text=True).stdout)
    target = f"/v1/payment_intents/{created['id']}"
    direct = median_of([oha(upstream + target, WORK / "standin2.pem", 1, secs=max(3, SECS // 2)) for _ in range(RUNS)])
    rec, m = start([str(REL / "stripe-vcr"), "record", "--upstream", upstream, "--upstream-ca", str(WORK / "standin2.pem"),
                    "--listen", "127.0.0.1:0", "--cassettes", str(cas), "--certs", str(WORK / "certs")],
                   r"listening   https://127\.0\.0\.1:(\d+)", cpu=SERVER_CPU)
    via = median_of([oha(f"https://127.0.0.1:{m.group(1)}{target}", WORK / "certs" / "ca.pem", 1, secs=max(3, SECS // 2))
                     for _ in range(RUNS)])
    stop(rec)
    stop(standin)
    return direct, via


def criterion():
    out = subprocess.run(["cargo", "bench", "--bench", "hot_path", "--", "--noplot"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    rows = []
    for m in re.finditer(r"^((?:decode\+|validate:)[^\n]*?)\s+time:\s+\[\S+ \S+ (\S+) (\S+)", out, re.M):
        rows.append((m.group(1).strip(), f"{m.group(2)} {m.group(3)}"))
    return rows


def main():
    for tool in ("oha", "taskset", "curl"):
        if not shutil.which(tool):
            raise SystemExit(f"needs {tool} (oha: cargo install oha --locked)")
    if not (shutil.which("nginx") and shutil.which("openssl")):
        log("nginx or openssl not installed: measuring against the hyper+rustls baseline only")
        KINDS.remove("nginx")
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    log("building (release)…")
    sh("cargo", "build", "--release", "--workspace", "--bins", "--examples", cwd=ROOT, stdout=subprocess.DEVNULL)
    log("recording the benchmark requests…")
    pid, upstream, template = record_fixture()
    body_sizes = sizes(WORK / "cassettes", pid)
    load_before = os.getloadavg()
    log(f"replay vs baseline ({RUNS} × {SECS}s per cell)…")
    tp = throughput(pid)
    log(f"latency at {FIXED_RATE} requests per second…")
    fr = fixed_rate(pid)
    log("scale…")
    sc = scale(template)
    log("new connections…")
    hs = handshakes(pid)
    log("record overhead…")
    direct, via = record_overhead(pid, upstream)
    load_after = os.getloadavg()
    log("micro-benchmark…")
    micro = criterion()

    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor())
    L = []
    L.append("# stripe-vcr benchmark results\n")
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip() or "unknown"
    L.append(f"Measured {date.today()} at commit {commit} with `python3 bench/run.py` (BENCH_SECS={SECS}, BENCH_RUNS={RUNS}) on "
             f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}. Server pinned to CPU "
             f"{SERVER_CPU} with `taskset`, `oha` to CPU {LOAD_CPU}; TLS 1.3, keep-alive; median of {RUNS} runs of "
             f"{SECS} s per cell. stripe-vcr runs with its defaults (`--validate warn`, one info log line per "
             "request to stderr). Two baselines serve the same response bytes with no proxy logic: "
             "**hyper** (`bench/baseline.rs`: the same hyper + rustls stack as stripe-vcr, no logging; the "
             "stricter of the two) and **nginx** (Debian's nginx, one worker, the recorded bytes from files with "
             "the recorded headers, Debian's default per-request access log, the set-up issue #9 names). "
             "These machines are shared and noisy: compare ratios within one run. Load average (1, 5, 15 min) "
             f"before the servers ran: {', '.join(f'{x:.2f}' for x in load_before)}; after the last server: "
             f"{', '.join(f'{x:.2f}' for x in load_after)}.\n")
    L.append(f"Response sizes: retrieve {body_sizes.get('retrieve')} B, list {body_sizes.get('list')} B, "
             f"create {body_sizes.get('create')} B, JSON create {body_sizes.get('json')} B. The baselines match by "
             "method and path, so both creates get one of the two recorded create answers from them.\n")
    has_nginx = "nginx" in KINDS
    L.append("## Replay vs the static TLS baselines\n")
    L.append("| request | proto | conns | hyper req/s | nginx req/s | stripe-vcr req/s | ÷ hyper | ÷ nginx | p50 ms | p99 ms | p99.9 ms |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    ratios = {"baseline": [], "nginx": []}
    p99s, p99_conns = [], []
    for name in ("GET retrieve", "GET list?limit=3", "POST create (form)", "POST create (JSON)"):
        for http2 in (False, True):
            for conns in (16, 32):
                b, s = tp[("baseline", name, http2, conns)], tp[("stripe-vcr", name, http2, conns)]
                n = tp.get(("nginx", name, http2, conns))
                ratios["baseline"].append((s["rps"] / b["rps"], name))
                if n:
                    ratios["nginx"].append((s["rps"] / n["rps"], name))
                p99s.append(s["p99"])
                p99_conns.append(conns)
                nginx_rps = f"{n['rps']:,.0f}" if n else "–"
                nginx_ratio = f"{s['rps'] / n['rps']:.2f}" if n else "–"
                L.append(f"| {name} | {'HTTP/2' if http2 else 'HTTP/1.1'} | {conns} | {b['rps']:,.0f} | {nginx_rps} | "
                         f"{s['rps']:,.0f} | {s['rps'] / b['rps']:.2f} | {nginx_ratio} | {s['p50']:.2f} | "
                         f"{s['p99']:.2f} | {s['p999']:.2f} |")
    nginx_rss = f", nginx worker {tp[('nginx', 'peak_rss')]:.1f} MiB" if has_nginx else ""
    L.append(f"\nPeak RSS over the whole run: stripe-vcr {tp[('stripe-vcr', 'peak_rss')]:.1f} MiB, "
             f"hyper baseline {tp[('baseline', 'peak_rss')]:.1f} MiB{nginx_rss}.\n")
    L.extend(fixed_rate_table(fr))
    L.append("")
    L.append("## Scale: generated libraries of ~2 KB retrieve cassettes\n")
    L.append("| cassettes | start-up to serving s | RSS MiB | on disk MiB | RSS / disk | GET retrieve req/s | p99 ms |")
    L.append("|---:|---:|---:|---:|---:|---:|---:|")
    for n, st, rss, disk, rps, p99 in sc:
        L.append(f"| {n:,} | {st:.2f} | {rss:.1f} | {disk:.1f} | {rss / disk:.2f} | {rps:,.0f} | {p99:.2f} |")
    L.append("\n## New connections (keep-alive off: one full TLS handshake per request)\n")
    L.append("| server | handshakes+requests /s | p99 ms |")
    L.append("|---|---:|---:|")
    for kind in ("baseline", "stripe-vcr"):
        L.append(f"| {kind} | {hs[kind]['rps']:,.0f} | {hs[kind]['p99']:.2f} |")
    L.append(f"\nCONNECT to api.stripe.com through the proxy (curl's time to TLS established): first tunnel, which "
             f"mints the host's leaf certificate, {hs['connect_first_ms']:.2f} ms; later tunnels (cached leaf) "
             f"{hs['connect_cached_ms']:.2f} ms.\n")
    L.append("## Record overhead (GET retrieve, 1 connection)\n")
    L.append("| path | p50 ms | p99 ms |")
    L.append("|---|---:|---:|")
    L.append(f"| straight to the stand-in | {direct['p50']:.3f} | {direct['p99']:.3f} |")
    L.append(f"| through `stripe-vcr record` (forward + redact + cassette written; synced to disk behind the answer) | {via['p50']:.3f} | {via['p99']:.3f} |")
    L.append(f"\nAdded p50: {via['p50'] - direct['p50']:.3f} ms.\n")
    L.append("## Hot path (criterion, `cargo bench --bench hot_path`)\n")
    L.append("| case | median |")
    L.append("|---|---:|")
    for name, t in micro:
        L.append(f"| {name} | {t} |")
    L.append("\n## Against the targets (issues #9 and #21), from the figures above\n")
    L.append("| target | result |")
    L.append("|---|---|")

    def verdict(ok):
        return "met" if ok else "**missed**"

    for kind, label in (("nginx", "nginx"), ("baseline", "the hyper baseline")):
        if ratios[kind]:
            worst = min(ratios[kind])
            L.append(f"| replay ≥ 0.8× {label} (every request, protocol, connection count) | {verdict(worst[0] >= 0.8)}: "
                     f"{worst[0]:.2f}–{max(ratios[kind])[0]:.2f} (lowest: {worst[1]}) |")
    L.append(f"| p99 ≤ 2 ms at 16 and 32 connections | {verdict(max(p99s) <= 2)}: {min(p99s):.2f}–{max(p99s):.2f} ms |")
    if ratios["baseline"]:
        worst = min(ratios["baseline"])
        L.append(f"| issue #21: replay ≥ 0.9× the hyper baseline (every request, protocol, connection count) | "
                 f"{verdict(worst[0] >= 0.9)}: {worst[0]:.2f}–{max(ratios['baseline'])[0]:.2f} (lowest: {worst[1]}) |")
    p99_16 = [p for p, c in zip(p99s, p99_conns) if c == 16]
    L.append(f"| issue #21: p99 ≤ 1 ms at 16 connections, full speed | {verdict(max(p99_16) <= 1)}: "
             f"{min(p99_16):.2f}–{max(p99_16):.2f} ms |")
    fixed = [v["p99"] for k, v in fr.items() if k[0] == "stripe-vcr"]
    L.append(f"| issue #21: p99 ≤ 1 ms at 16 connections, at {FIXED_RATE:,} req/s | {verdict(max(fixed) <= 1)}: "
             f"{min(fixed):.2f}–{max(fixed):.2f} ms |")
    rss = tp[("stripe-vcr", "peak_rss")]
    L.append(f"| peak RSS ≤ 30 MiB with the benchmark's cassettes | {verdict(rss <= 30)}: {rss:.1f} MiB |")

    def micros(text):
        value, unit = text.split()
        return float(value) * {"ns": 1e-3, "µs": 1, "us": 1, "ms": 1e3}[unit]

    for name, t in micro:
        if name.startswith("decode+"):
            L.append(f"| decode + canonicalise + hash + look-up ≤ 5 µs: {name.split(': ', 1)[1]} | "
                     f"{verdict(micros(t) <= 5)}: {t} |")
    first, last = sc[0], sc[-1]
    L.append(f"| {last[0]:,} cassettes: start-up ≤ 3 s | {verdict(last[1] <= 3)}: {last[1]:.2f} s |")
    L.append(f"| {last[0]:,} cassettes: RSS ≤ 1.5× the size on disk | {verdict(last[2] / last[3] <= 1.5)}: "
             f"{last[2] / last[3]:.2f}× |")
    change = last[4] / first[4] - 1
    L.append(f"| {last[0]:,} cassettes: throughput within 10% of {first[0]:,} | {verdict(abs(change) <= 0.10)}: "
             f"{change:+.0%} |")
    added = via["p50"] - direct["p50"]
    L.append(f"| record adds ≤ 1 ms p50 | {verdict(added <= 1)}: +{added:.2f} ms |")
    # Hand-written notes below the marker (what changed, profiles) survive a re-run.
    results = ROOT / "bench" / "RESULTS.md"
    previous = results.read_text() if results.exists() else ""
    notes = previous[previous.index(NOTES_MARKER):] if NOTES_MARKER in previous else NOTES_MARKER + "\n"
    results.write_text("\n".join(L) + "\n\n" + notes)
    log("wrote bench/RESULTS.md")


if __name__ == "__main__":
    main()
