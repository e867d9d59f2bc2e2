#!/usr/bin/env python3
"""stripe-vcr's benchmark: replay against a static TLS baseline, at scale,
for new connections and for record overhead, plus the hot-path
micro-benchmark. Writes bench/RESULTS.md.

    python3 bench/run.py            # full run (about 15 minutes on 2 cores)
    BENCH_SECS=3 BENCH_RUNS=1 python3 bench/run.py   # a quick look

Needs: `oha` (`cargo install oha --locked`), `taskset` (util-linux), curl.
Only 127.0.0.1 is used. Standard library only.
"""

import json
import os
import platform
import re
import shutil
import signal
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


def oha(url, ca, conns, http2=False, method="GET", body=None, keepalive=True, secs=SECS, proxy=None):
    cmd = ["taskset", "-c", LOAD_CPU, "oha", "--no-tui", "--output-format", "json", "-z", f"{secs}s",
           "-c", str(conns), "--cacert", str(ca), "-H", f"Authorization: Bearer {KEY}",
           "-H", f"Stripe-Version: {VERSION}", "-m", method]
    if http2:
        cmd.append("--http2")
    if body is not None:
        cmd += ["-d", body, "-T", "application/x-www-form-urlencoded"]
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
    """Records the three benchmark requests through stripe-vcr from the seeded stand-in."""
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
            out["create"] = len(json.dumps(c["response"]["body"], indent=2))
    return out


def server_cmd(kind, cas, certs):
    if kind == "baseline":
        return [str(REL / "examples" / "bench-baseline"), "127.0.0.1:0", str(cas), str(certs)], r"listening on https://127\.0\.0\.1:(\d+)"
    return [str(REL / "stripe-vcr"), "replay", "--listen", "127.0.0.1:0", "--cassettes", str(cas), "--certs",
            str(certs)], r"listening   https://127\.0\.0\.1:(\d+)"


def throughput(pid):
    cas, certs = WORK / "cassettes", WORK / "certs"
    requests = {
        "GET retrieve": dict(path=f"/v1/payment_intents/{pid}"),
        "GET list?limit=3": dict(path="/v1/payment_intents?limit=3"),
        "POST create (form)": dict(path="/v1/payment_intents", method="POST", body=CREATE_BODY),
    }
    results = {}
    for kind in ("baseline", "stripe-vcr"):
        cmd, ready = server_cmd(kind, cas, certs)
        proc, m = start(cmd, ready, cpu=SERVER_CPU)
        base = f"https://127.0.0.1:{m.group(1)}"
        for name, req in requests.items():
            for http2 in (False, True):
                for conns in (16, 32):
                    runs = [oha(base + req["path"], certs / "ca.pem", conns, http2=http2, method=req.get("method", "GET"),
                                body=req.get("body")) for _ in range(RUNS)]
                    results[(kind, name, http2, conns)] = median_of(runs)
                    r = results[(kind, name, http2, conns)]
                    log(f"  {kind:10} {name:20} {'h2' if http2 else 'h1'} c={conns}: {r['rps']:.0f} req/s p99 {r['p99']:.2f} ms")
        results[(kind, "peak_rss")] = peak_rss_mib(proc.pid)
        stop(proc)
    return results


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
    for m in re.finditer(r"^(decode\+[^\n]+?)\s*\n\s+time:\s+\[\S+ \S+ (\S+) (\S+)", out, re.M):
        rows.append((m.group(1).strip(), f"{m.group(2)} {m.group(3)}"))
    return rows


def main():
    for tool in ("oha", "taskset", "curl"):
        if not shutil.which(tool):
            raise SystemExit(f"needs {tool} (oha: cargo install oha --locked)")
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    log("building (release)…")
    sh("cargo", "build", "--release", "--bins", "--examples", cwd=ROOT, stdout=subprocess.DEVNULL)
    log("recording the benchmark requests…")
    pid, upstream, template = record_fixture()
    body_sizes = sizes(WORK / "cassettes", pid)
    log(f"replay vs baseline ({RUNS} × {SECS}s per cell)…")
    tp = throughput(pid)
    log("scale…")
    sc = scale(template)
    log("new connections…")
    hs = handshakes(pid)
    log("record overhead…")
    direct, via = record_overhead(pid, upstream)
    log("micro-benchmark…")
    micro = criterion()

    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor())
    L = []
    L.append("# stripe-vcr benchmark results\n")
    L.append(f"Measured {date.today()} with `python3 bench/run.py` (BENCH_SECS={SECS}, BENCH_RUNS={RUNS}) on "
             f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}. Server pinned to CPU "
             f"{SERVER_CPU} with `taskset`, `oha` to CPU {LOAD_CPU}; TLS 1.3, keep-alive; median of {RUNS} runs of "
             f"{SECS} s per cell. stripe-vcr runs with its defaults (`--validate warn`, one info log line per "
             "request to stderr). The baseline (`bench/baseline.rs`) serves the same response bytes over the same "
             "TLS stack with no proxy logic. These machines are shared and noisy: compare ratios within one run.\n")
    L.append(f"Response sizes: retrieve {body_sizes.get('retrieve')} B, list {body_sizes.get('list')} B, "
             f"create {body_sizes.get('create')} B.\n")
    L.append("## Replay vs the static TLS baseline\n")
    L.append("| request | proto | conns | baseline req/s | stripe-vcr req/s | ratio | p50 ms | p99 ms | p99.9 ms |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in ("GET retrieve", "GET list?limit=3", "POST create (form)"):
        for http2 in (False, True):
            for conns in (16, 32):
                b, s = tp[("baseline", name, http2, conns)], tp[("stripe-vcr", name, http2, conns)]
                L.append(f"| {name} | {'HTTP/2' if http2 else 'HTTP/1.1'} | {conns} | {b['rps']:,.0f} | {s['rps']:,.0f} | "
                         f"{s['rps'] / b['rps']:.2f} | {s['p50']:.2f} | {s['p99']:.2f} | {s['p999']:.2f} |")
    L.append(f"\nPeak RSS over the whole run: stripe-vcr {tp[('stripe-vcr', 'peak_rss')]:.1f} MiB, "
             f"baseline {tp[('baseline', 'peak_rss')]:.1f} MiB.\n")
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
    L.append(f"| through `stripe-vcr record` (forward + redact + fsync'd cassette) | {via['p50']:.3f} | {via['p99']:.3f} |")
    L.append(f"\nAdded p50: {via['p50'] - direct['p50']:.3f} ms.\n")
    L.append("## Hot path (criterion, `cargo bench --bench hot_path`)\n")
    L.append("| case | median |")
    L.append("|---|---:|")
    for name, t in micro:
        L.append(f"| {name} | {t} |")
    (ROOT / "bench" / "RESULTS.md").write_text("\n".join(L) + "\n")
    log("wrote bench/RESULTS.md")


if __name__ == "__main__":
    main()
