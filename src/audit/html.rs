//! Renders the audit [`Report`] as one self-contained HTML5 page: inline CSS,
//! no JavaScript, no external assets (a Content-Security-Policy forbids
//! them), every string from the report escaped.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::audit::report::{EndpointReport, Findings, ParamUsage, Report};

/// The page's stylesheet: system fonts, light background, zebra tables and
/// colours that keep text at WCAG AA contrast.
const STYLE: &str = r#"
:root {
  --fg: #1f2933; --muted: #52606d; --bg: #f5f7fa; --card: #ffffff; --line: #d9e2ec; --zebra: #f8fafc;
  --accent: #1d4ed8; --bar: #3b6fd4; --bar-undoc: #c2410c; --track: #e4e9f0;
  --crit-fg: #9b1c1c; --crit-bg: #fdecec; --crit-line: #e02424;
  --warn-fg: #8a3c00; --warn-bg: #fff4e5; --warn-line: #d97706;
  --note-fg: #1e429f; --note-bg: #ebf2ff; --note-line: #3f83f8;
  --ok-fg: #03543f; --ok-bg: #e8f7ef; --ok-line: #0e9f6e;
}
* { box-sizing: border-box; }
html { background: var(--bg); color: var(--fg); }
body {
  margin: 0 auto; max-width: 72rem; padding: 1.5rem 1.5rem 3rem;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 0.92em; }
h1 { font-size: 1.75rem; margin: 0 0 0.25rem; }
h2 { font-size: 1.35rem; margin: 0 0 0.75rem; }
h3 { font-size: 1.05rem; margin: 1.25rem 0 0.5rem; }
a { color: var(--accent); }
.muted { color: var(--muted); }
header.page { margin-bottom: 1.25rem; }
header.page p { margin: 0.15rem 0; }
.card {
  background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 1.1rem 1.25rem; margin: 0 0 1.25rem; box-shadow: 0 1px 2px rgba(15, 23, 42, 0.05);
}
.totals { display: grid; grid-template-columns: repeat(auto-fit, minmax(10rem, 1fr)); gap: 0.75rem; margin: 0; }
.total { border: 1px solid var(--line); border-left-width: 4px; border-radius: 8px; padding: 0.6rem 0.8rem; background: var(--card); }
.total dt { font-size: 0.8rem; color: var(--muted); text-transform: uppercase; letter-spacing: 0.03em; }
.total dd { margin: 0; font-size: 1.6rem; font-weight: 650; font-variant-numeric: tabular-nums; }
.total.sev-critical { border-left-color: var(--crit-line); background: var(--crit-bg); }
.total.sev-critical dd { color: var(--crit-fg); }
.total.sev-warning { border-left-color: var(--warn-line); background: var(--warn-bg); }
.total.sev-warning dd { color: var(--warn-fg); }
.total.sev-ok { border-left-color: var(--ok-line); }
.total.sev-info { border-left-color: var(--note-line); }
nav.toc ul { list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: 0.4rem; }
nav.toc a {
  display: inline-block; padding: 0.15rem 0.6rem; border: 1px solid var(--line); border-radius: 999px;
  background: var(--card); text-decoration: none;
}
.finding { border-left: 4px solid var(--line); padding: 0.6rem 0.9rem; margin: 0.75rem 0; border-radius: 6px; }
.finding h3 { margin: 0 0 0.35rem; }
.finding p { margin: 0.25rem 0; }
.finding.sev-critical { border-left-color: var(--crit-line); background: var(--crit-bg); }
.finding.sev-warning { border-left-color: var(--warn-line); background: var(--warn-bg); }
.finding.sev-notice { border-left-color: var(--note-line); background: var(--note-bg); }
.finding.sev-ok { border-left-color: var(--ok-line); background: var(--ok-bg); }
.finding table { background: var(--card); }
.badge {
  display: inline-block; padding: 0 0.5rem; border-radius: 999px; font-size: 0.78rem; font-weight: 600;
  line-height: 1.5rem; vertical-align: middle; border: 1px solid transparent; white-space: nowrap;
}
.badge.sev-critical { color: #fff; background: #b91c1c; }
.badge.sev-warning { color: #fff; background: #b45309; }
.badge.sev-notice { color: #fff; background: #1d4ed8; }
.badge.sev-ok { color: #fff; background: #047857; }
.badge.method { color: #fff; background: #334e68; font-family: ui-monospace, Menlo, Consolas, monospace; }
.badge.method-get { background: #046c4e; }
.badge.method-post { background: #1e429f; }
.badge.status-2 { color: var(--ok-fg); background: var(--ok-bg); border-color: var(--ok-line); }
.badge.status-4 { color: var(--warn-fg); background: var(--warn-bg); border-color: var(--warn-line); }
.badge.status-5 { color: var(--crit-fg); background: var(--crit-bg); border-color: var(--crit-line); }
.badge.plain { color: var(--fg); background: var(--zebra); border-color: var(--line); }
.badge.deprecated { color: var(--note-fg); background: var(--note-bg); border-color: var(--note-line); }
.endpoint h2 { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem; }
.endpoint h2 .name { font-weight: 700; }
.endpoint h2 code { font-weight: 500; color: var(--muted); }
.facts { display: flex; flex-wrap: wrap; gap: 0.35rem 1.5rem; margin: 0 0 0.5rem; }
.facts div { display: flex; gap: 0.35rem; align-items: center; flex-wrap: wrap; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; display: flex; gap: 0.3rem; flex-wrap: wrap; }
figure { margin: 0.75rem 0; }
figcaption { font-weight: 600; margin-bottom: 0.4rem; }
.coverage .figure-number { font-size: 1.25rem; font-weight: 650; font-variant-numeric: tabular-nums; }
.track { background: var(--track); border-radius: 4px; height: 0.8rem; overflow: hidden; }
.fill { background: var(--bar); height: 100%; min-width: 2px; }
.coverage .track { max-width: 24rem; margin-top: 0.3rem; }
.coverage .fill { background: var(--ok-line); }
.chart { display: grid; grid-template-columns: fit-content(24rem) minmax(8rem, 1fr) 3.5rem; gap: 0.25rem 0.75rem; align-items: center; }
.chart .label { overflow-wrap: anywhere; font-size: 0.85rem; }
.chart .count { text-align: right; font-variant-numeric: tabular-nums; font-size: 0.85rem; }
.chart .undocumented .fill, .chart .fill.undocumented { background: var(--bar-undoc); }
.legend { font-size: 0.8rem; color: var(--muted); margin-top: 0.4rem; }
.swatch { display: inline-block; width: 0.8rem; height: 0.8rem; border-radius: 2px; vertical-align: -0.1rem; margin: 0 0.25rem 0 0.75rem; }
.swatch.documented { background: var(--bar); margin-left: 0; }
.swatch.undocumented { background: var(--bar-undoc); }
table { border-collapse: collapse; width: 100%; margin: 0.4rem 0; font-size: 0.9rem; }
th, td { text-align: left; padding: 0.35rem 0.6rem; border-bottom: 1px solid var(--line); vertical-align: baseline; }
thead th { background: #eef2f7; font-weight: 600; border-bottom: 2px solid var(--line); }
tbody th { font-weight: 500; }
tbody tr:nth-child(even) { background: var(--zebra); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td code, th code { overflow-wrap: break-word; }
tbody tr.undocumented > * { background: var(--warn-bg); }
tbody tr.undocumented > :first-child { box-shadow: inset 4px 0 0 var(--warn-line); }
.yes { color: var(--ok-fg); font-weight: 600; }
.no { color: var(--warn-fg); font-weight: 600; }
ul.unused { columns: 3 14rem; padding-left: 1.2rem; margin: 0.3rem 0; }
.side-by-side h3 { margin-top: 0.25rem; }
.side-by-side { display: grid; grid-template-columns: repeat(auto-fit, minmax(18rem, 1fr)); gap: 1.25rem; }
footer { color: var(--muted); font-size: 0.8rem; margin-top: 2rem; }
"#;

/// Escapes text for HTML element content and double- or single-quoted
/// attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The `id` of an endpoint's section: `endpoint-<name>`, any character other
/// than ASCII letters, digits, `_` and `-` replaced by `-` (so the id is also
/// a valid URL fragment).
pub fn section_id(endpoint: &str) -> String {
    let slug: String = endpoint
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("endpoint-{slug}")
}

/// `part` out of `whole` as a percentage (0 when `whole` is 0), capped at 100.
fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * 100.0 / whole as f64).min(100.0)
    }
}

/// Renders the page.
pub fn render(report: &Report) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"generator\" content=\"stripe-vcr audit (report version {})\">\n\
         <title>stripe-vcr audit — {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        report.report_version,
        escape(&report.schema)
    );
    summary(&mut out, report);
    toc(&mut out, report);
    findings(&mut out, &report.findings);
    for endpoint in &report.endpoints {
        endpoint_section(&mut out, endpoint);
    }
    versions_and_clients(&mut out, report);
    let _ = write!(
        out,
        "<footer>Generated by <code>stripe-vcr audit</code> · report version {} · schema {}</footer>\n</body>\n</html>\n",
        report.report_version,
        escape(&report.schema)
    );
    out
}

/// The title, sources and headline counts.
fn summary(out: &mut String, report: &Report) {
    let _ = write!(
        out,
        "<header class=\"page\">\n<h1>stripe-vcr audit</h1>\n<p class=\"muted\">Parameters sent to the Payment Intents \
         API, judged against the schema <strong>{}</strong>.</p>\n",
        escape(&report.schema)
    );
    if report.sources.is_empty() {
        out.push_str("<p class=\"muted\">Sources: none</p>\n");
    } else {
        let sources: Vec<String> = report
            .sources
            .iter()
            .map(|s| format!("<code>{}</code>", escape(s)))
            .collect();
        let _ = writeln!(out, "<p class=\"muted\">Sources: {}</p>", sources.join(", "));
    }
    out.push_str("</header>\n<section class=\"card summary\" aria-labelledby=\"summary-title\">\n");
    out.push_str("<h2 id=\"summary-title\">Summary</h2>\n<dl class=\"totals\">\n");
    let t = &report.totals;
    let risky = |n: usize, sev: &str| {
        if n == 0 {
            "sev-ok".to_owned()
        } else {
            format!("sev-{sev}")
        }
    };
    let cells = [
        ("Requests", t.requests, "sev-info".to_owned()),
        ("Endpoints", t.endpoints, "sev-info".to_owned()),
        (
            "Invalid requests",
            t.invalid_requests,
            risky(t.invalid_requests, "warning"),
        ),
        (
            "Undocumented params",
            t.undocumented_params,
            risky(t.undocumented_params, "warning"),
        ),
        (
            "Card-data requests",
            t.card_data_requests,
            risky(t.card_data_requests, "critical"),
        ),
        (
            "Live-key requests",
            t.live_key_requests,
            risky(t.live_key_requests, "critical"),
        ),
    ];
    for (label, n, class) in cells {
        let _ = writeln!(out, "<div class=\"total {class}\"><dt>{label}</dt><dd>{n}</dd></div>");
    }
    out.push_str("</dl>\n</section>\n");
}

/// Links to each endpoint's section.
fn toc(out: &mut String, report: &Report) {
    if report.endpoints.is_empty() {
        return;
    }
    out.push_str("<nav class=\"card toc\" aria-label=\"Endpoints\">\n<h2>Endpoints</h2>\n<ul>\n");
    for e in &report.endpoints {
        let _ = writeln!(
            out,
            "<li><a href=\"#{}\">{} <span class=\"muted\">({})</span></a></li>",
            section_id(&e.endpoint),
            escape(&e.endpoint),
            e.requests
        );
    }
    out.push_str("</ul>\n</nav>\n");
}

/// Opens a finding block: heading and severity badge (`none` when `count` is 0).
fn finding_head(out: &mut String, id: &str, title: &str, severity: &str, label: &str, count: usize) {
    let (sev, badge) = if count == 0 { ("ok", "none") } else { (severity, label) };
    let _ = writeln!(
        out,
        "<div class=\"finding sev-{sev}\" id=\"{id}\">\n<h3>{title} <span class=\"badge sev-{sev}\">{badge}</span></h3>"
    );
}

/// A link to an endpoint's section.
fn endpoint_link(endpoint: &str) -> String {
    format!("<a href=\"#{}\">{}</a>", section_id(endpoint), escape(endpoint))
}

/// The risk findings, most severe first.
fn findings(out: &mut String, f: &Findings) {
    out.push_str("<section class=\"card findings\" aria-labelledby=\"findings-title\">\n");
    out.push_str("<h2 id=\"findings-title\">Findings</h2>\n");

    let card_requests: usize = f.card_data.iter().map(|c| c.requests).sum();
    finding_head(
        out,
        "finding-card-data",
        "Raw card data (PCI scope)",
        "critical",
        "critical",
        card_requests,
    );
    if f.card_data.is_empty() {
        out.push_str("<p>No request carried a raw card number or security code.</p>\n");
    } else {
        out.push_str(
            "<p>These requests send raw card numbers or security codes, which puts the app in PCI DSS scope. \
             Collect cards with Stripe.js, Elements or a mobile SDK and send a PaymentMethod id instead.</p>\n",
        );
        table_head(out, &["Endpoint", "Parameter", "Requests"], &[2]);
        for c in &f.card_data {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td></tr>",
                endpoint_link(&c.endpoint),
                escape(&c.path),
                c.requests
            );
        }
        out.push_str("</tbody></table>\n");
    }
    out.push_str("</div>\n");

    finding_head(
        out,
        "finding-live-keys",
        "Live secret keys",
        "critical",
        "critical",
        f.live_keys,
    );
    if f.live_keys == 0 {
        out.push_str("<p>No request used a live-mode key.</p>\n");
    } else {
        let _ = writeln!(
            out,
            "<p><strong>{}</strong> request{} used a live-mode key (<code>sk_live_…</code> or <code>rk_live_…</code>). \
             Use test-mode keys with stripe-vcr, and rotate any live key that reached a log or a cassette.</p>",
            f.live_keys,
            if f.live_keys == 1 { "" } else { "s" }
        );
    }
    out.push_str("</div>\n");

    let invalid: usize = f.invalid.iter().map(|i| i.requests).sum();
    finding_head(
        out,
        "finding-invalid",
        "Invalid requests",
        "warning",
        "warning",
        invalid,
    );
    if f.invalid.is_empty() {
        out.push_str("<p>Every request passed validation against the schema.</p>\n");
    } else {
        out.push_str("<p>Requests Stripe would reject, by error code and parameter.</p>\n");
        table_head(out, &["Endpoint", "Code", "Parameter", "Message", "Requests"], &[4]);
        for i in &f.invalid {
            let code = i.code.as_deref().map_or_else(
                || "<span class=\"muted\">—</span>".to_owned(),
                |c| format!("<code>{}</code>", escape(c)),
            );
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{code}</td><td><code>{}</code></td><td>{}</td><td class=\"num\">{}</td></tr>",
                endpoint_link(&i.endpoint),
                escape(&i.param),
                escape(&i.message),
                i.requests
            );
        }
        out.push_str("</tbody></table>\n");
    }
    out.push_str("</div>\n");

    finding_head(
        out,
        "finding-undocumented",
        "Undocumented parameters",
        "warning",
        "warning",
        f.undocumented.len(),
    );
    if f.undocumented.is_empty() {
        out.push_str("<p>Every parameter sent is documented.</p>\n");
    } else {
        out.push_str("<p>Parameters the schema does not document: often a typo, sometimes a private beta.</p>\n");
        table_head(out, &["Endpoint", "Parameter", "Requests", "Did you mean"], &[2]);
        for u in &f.undocumented {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td><td>{}</td></tr>",
                endpoint_link(&u.endpoint),
                escape(&u.path),
                u.requests,
                closest(u.closest.as_deref())
            );
        }
        out.push_str("</tbody></table>\n");
    }
    out.push_str("</div>\n");

    finding_head(
        out,
        "finding-deprecated",
        "Deprecated parameters",
        "notice",
        "notice",
        f.deprecated.len(),
    );
    if f.deprecated.is_empty() {
        out.push_str("<p>No deprecated parameter was sent.</p>\n");
    } else {
        out.push_str("<p>Parameters Stripe has deprecated; plan to move off them.</p>\n");
        table_head(out, &["Endpoint", "Parameter", "Requests"], &[2]);
        for d in &f.deprecated {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td></tr>",
                endpoint_link(&d.endpoint),
                escape(&d.path),
                d.requests
            );
        }
        out.push_str("</tbody></table>\n");
    }
    out.push_str("</div>\n</section>\n");
}

/// The closest documented name, or a dash.
fn closest(name: Option<&str>) -> String {
    name.map_or_else(
        || "<span class=\"muted\">—</span>".to_owned(),
        |c| format!("<code>{}</code>", escape(c)),
    )
}

/// Opens a table with a header row (`numeric` columns right-aligned) and its body.
fn table_head(out: &mut String, headers: &[&str], numeric: &[usize]) {
    out.push_str("<table>\n<thead><tr>");
    for (i, h) in headers.iter().enumerate() {
        let class = if numeric.contains(&i) { " class=\"num\"" } else { "" };
        let _ = write!(out, "<th scope=\"col\"{class}>{h}</th>");
    }
    out.push_str("</tr></thead>\n<tbody>\n");
}

/// Badges for a count map (`200 × 4`).
fn count_badges<K: ToString>(counts: &BTreeMap<K, usize>, class: impl Fn(&K) -> String) -> String {
    if counts.is_empty() {
        return "<span class=\"muted\">—</span>".to_owned();
    }
    counts
        .iter()
        .map(|(k, n)| {
            format!(
                "<span class=\"badge {}\">{} × {n}</span>",
                class(k),
                escape(&k.to_string())
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One endpoint: facts, coverage figure, usage chart, parameter table and
/// the documented parameters never sent.
fn endpoint_section(out: &mut String, e: &EndpointReport) {
    let id = section_id(&e.endpoint);
    let method = if e.method.is_empty() {
        "?".to_owned()
    } else {
        e.method.clone()
    };
    let path = if e.path.is_empty() {
        "(not in the schema)".to_owned()
    } else {
        e.path.clone()
    };
    let _ = writeln!(
        out,
        "<section class=\"card endpoint\" id=\"{id}\" aria-labelledby=\"{id}-title\">\n\
         <h2 id=\"{id}-title\"><span class=\"name\">{}</span> <span class=\"badge method method-{}\">{}</span> \
         <code>{}</code></h2>",
        escape(&e.endpoint),
        escape(&method.to_ascii_lowercase()),
        escape(&method),
        escape(&path)
    );
    let _ = writeln!(
        out,
        "<dl class=\"facts\">\n<div><dt>Requests</dt><dd><strong>{}</strong></dd></div>\n\
         <div><dt>Statuses</dt><dd>{}</dd></div>\n<div><dt>Outcomes</dt><dd>{}</dd></div>\n</dl>",
        e.requests,
        count_badges(&e.statuses, |s| format!("status-{}", s / 100)),
        count_badges(&e.outcomes, |_| "plain".to_owned())
    );

    // Coverage figure.
    let c = e.coverage;
    let pct = percent(c.used, c.documented);
    let pct_text = if c.documented == 0 {
        "n/a".to_owned()
    } else {
        format!("{pct:.0}%")
    };
    let _ = writeln!(
        out,
        "<figure class=\"coverage\">\n<figcaption>Coverage of documented parameters</figcaption>\n\
         <div><span class=\"figure-number\">{} / {}</span> documented top-level parameters used \
         (<strong class=\"coverage-percent\">{pct_text}</strong>)</div>\n\
         <div class=\"track\" role=\"img\" aria-label=\"{pct_text} of documented parameters used\">\
         <div class=\"fill\" style=\"width:{pct:.1}%\"></div></div>\n</figure>",
        c.used, c.documented
    );

    // Parameter usage chart, most-used first.
    if e.params.is_empty() {
        out.push_str("<p class=\"muted\">No parameters were sent to this endpoint.</p>\n");
    } else {
        let mut by_use: Vec<&ParamUsage> = e.params.iter().collect();
        by_use.sort_by(|a, b| b.requests.cmp(&a.requests).then_with(|| a.path.cmp(&b.path)));
        let _ = writeln!(
            out,
            "<figure class=\"usage\">\n<figcaption>Parameter usage (requests carrying each path, of {})</figcaption>\n\
             <div class=\"chart\">",
            e.requests
        );
        for p in by_use {
            let w = percent(p.requests, e.requests);
            let class = if p.documented { "documented" } else { "undocumented" };
            let _ = writeln!(
                out,
                "<div class=\"label\"><code>{}</code></div>\
                 <div class=\"track\" aria-hidden=\"true\"><div class=\"fill {class}\" style=\"width:{w:.1}%\"></div></div>\
                 <div class=\"count\">{}</div>",
                escape(&p.path),
                p.requests
            );
        }
        out.push_str(
            "</div>\n<div class=\"legend\"><span class=\"swatch documented\"></span>documented\
             <span class=\"swatch undocumented\"></span>undocumented</div>\n</figure>\n",
        );
    }

    // Parameter table.
    let _ = writeln!(out, "<h3>Parameters</h3>\n<table class=\"params\">");
    out.push_str(
        "<thead><tr><th scope=\"col\">Path</th><th scope=\"col\" class=\"num\">Requests</th>\
         <th scope=\"col\">Documented</th><th scope=\"col\">Value kinds</th><th scope=\"col\">Example</th></tr></thead>\n<tbody>\n",
    );
    if e.params.is_empty() {
        out.push_str("<tr><td colspan=\"5\" class=\"muted\">No parameters.</td></tr>\n");
    }
    for p in &e.params {
        let documented = if p.documented {
            "<span class=\"yes\">yes</span>".to_owned()
        } else {
            match &p.closest {
                Some(c) => format!(
                    "<span class=\"no\">no</span> — did you mean <code>{}</code>?",
                    escape(c)
                ),
                None => "<span class=\"no\">no</span>".to_owned(),
            }
        };
        let deprecated = if p.deprecated {
            " <span class=\"badge deprecated\">deprecated</span>"
        } else {
            ""
        };
        let example = if p.example.is_empty() {
            "<span class=\"muted\">(empty)</span>".to_owned()
        } else {
            format!("<code>{}</code>", escape(&p.example))
        };
        let kinds: Vec<String> = p.kinds.iter().map(|k| escape(k)).collect();
        let _ = writeln!(
            out,
            "<tr{}><th scope=\"row\"><code>{}</code>{deprecated}</th><td class=\"num\">{}</td><td>{documented}</td>\
             <td>{}</td><td>{example}</td></tr>",
            if p.documented { "" } else { " class=\"undocumented\"" },
            escape(&p.path),
            p.requests,
            kinds.join(", ")
        );
    }
    out.push_str("</tbody>\n</table>\n");

    // Documented, never sent.
    let _ = writeln!(out, "<h3>Documented but never sent ({})</h3>", e.unused.len());
    if e.unused.is_empty() {
        out.push_str("<p class=\"muted\">Every documented parameter was sent at least once.</p>\n");
    } else {
        out.push_str("<ul class=\"unused\">\n");
        for u in &e.unused {
            let _ = writeln!(out, "<li><code>{}</code></li>", escape(u));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}

/// A two-column table of counts with a caption.
fn count_table(out: &mut String, id: &str, title: &str, column: &str, counts: &BTreeMap<String, usize>) {
    let _ = writeln!(out, "<div>\n<h3 id=\"{id}\">{title}</h3>");
    table_head(out, &[column, "Requests"], &[1]);
    if counts.is_empty() {
        out.push_str("<tr><td colspan=\"2\" class=\"muted\">None.</td></tr>\n");
    }
    for (k, n) in counts {
        let _ = writeln!(
            out,
            "<tr><th scope=\"row\"><code>{}</code></th><td class=\"num\">{n}</td></tr>",
            escape(k)
        );
    }
    out.push_str("</tbody></table>\n</div>\n");
}

/// The `Stripe-Version` and client tables.
fn versions_and_clients(out: &mut String, report: &Report) {
    out.push_str("<section class=\"card clients\" aria-labelledby=\"clients-title\">\n");
    out.push_str("<h2 id=\"clients-title\">API versions and clients</h2>\n<div class=\"side-by-side\">\n");
    count_table(
        out,
        "stripe-versions",
        "Stripe-Version",
        "Stripe-Version",
        &report.stripe_versions,
    );
    count_table(out, "user-agents", "Clients (User-Agent)", "Client", &report.clients);
    out.push_str("</div>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::report::{build, Coverage, EndpointReport, Findings, Observation, PathFinding, Report, Totals};
    use crate::stripe::params::Params;
    use crate::validate::schema::Schema;

    fn obs(endpoint: &str, status: u16, form: &str) -> Observation {
        Observation {
            endpoint: endpoint.to_owned(),
            status,
            outcome: "recorded".to_owned(),
            params: Params::from_form(form.as_bytes(), "body").expect("form decodes"),
            stripe_version: Some("2024-06-20".to_owned()),
            user_agent: Some("Stripe/v1 PythonBindings/15.3.1".to_owned()),
            live_key: false,
        }
    }

    fn sample() -> Report {
        let observations = [
            obs(
                "create",
                200,
                "amount=1000&currency=usd&metadata[order_id]=6735&expand[0]=customer",
            ),
            obs(
                "create",
                400,
                "ammount=1000&currency=usd&payment_method_data[card][number]=4242424242424242",
            ),
            obs(
                "create",
                200,
                "amount=5&currency=usd&description=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
            ),
            obs("retrieve", 200, ""),
            obs("list", 200, "limit=3"),
        ];
        build(Schema::builtin(), vec!["cassettes/<dir>".to_owned()], &observations)
    }

    #[test]
    fn escape_neutralises_hostile_input() {
        assert_eq!(escape("plain text"), "plain text");
        assert_eq!(
            escape(r#"<script>alert("x")</script>"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
        );
        assert_eq!(escape("a&b 'c'"), "a&amp;b &#39;c&#39;");
        assert_eq!(escape("&amp;"), "&amp;amp;");
        assert_eq!(escape(r#"" onerror='x' a=""#), "&quot; onerror=&#39;x&#39; a=&quot;");
        assert_eq!(escape("café ✓"), "café ✓");
        for hostile in [
            "<img src=x onerror=alert(1)>",
            "\"><svg onload=1>",
            "'--></style><script>",
        ] {
            let e = escape(hostile);
            assert!(!e.contains(['<', '>', '"', '\'']), "{e}");
        }
    }

    #[test]
    fn section_ids_are_fragment_safe() {
        assert_eq!(section_id("create"), "endpoint-create");
        assert_eq!(
            section_id("list_amount_details_line_items"),
            "endpoint-list_amount_details_line_items"
        );
        assert_eq!(section_id("a b\"<c>"), "endpoint-a-b--c-");
    }

    #[test]
    fn page_has_every_endpoint_section_table_and_coverage_figure() {
        let report = sample();
        let html = render(&report);
        assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
        assert!(html.contains("<meta charset=\"utf-8\">"));
        assert!(html.contains("<meta name=\"viewport\""));
        assert!(html.trim_end().ends_with("</html>"));
        assert_eq!(report.endpoints.len(), 3);
        for e in &report.endpoints {
            assert!(html.contains(&format!(
                "<section class=\"card endpoint\" id=\"endpoint-{}\"",
                e.endpoint
            )));
        }
        assert_eq!(html.matches("<table class=\"params\">").count(), report.endpoints.len());
        assert_eq!(
            html.matches("<figure class=\"coverage\">").count(),
            report.endpoints.len()
        );
        // The coverage figure: number, percentage and bar.
        let create = report
            .endpoints
            .iter()
            .find(|e| e.endpoint == "create")
            .expect("create");
        let Coverage { used, documented } = create.coverage;
        assert!(html.contains(&format!("<span class=\"figure-number\">{used} / {documented}</span>")));
        let pct = used as f64 * 100.0 / documented as f64;
        assert!(html.contains(&format!("{pct:.0}%</strong>")));
        assert!(html.contains(&format!("style=\"width:{pct:.1}%\"")));
        // Usage bars: `amount` is on 2 of 3 create requests.
        assert!(html.contains("<code>amount</code></div><div class=\"track\" aria-hidden=\"true\"><div class=\"fill documented\" style=\"width:66.7%\">"));
        assert!(html.contains("<code>expand[]</code>"));
        assert!(html.contains("<code>metadata[order_id]</code>"));
        // The typo, with its suggestion, highlighted.
        assert!(html.contains("<tr class=\"undocumented\"><th scope=\"row\"><code>ammount</code>"));
        assert!(html.contains("did you mean <code>amount</code>?"));
        // Findings, including card data, with severity.
        assert!(html.contains("<div class=\"finding sev-critical\" id=\"finding-card-data\">"));
        assert!(html.contains("<code>payment_method_data[card][number]</code>"));
        assert!(html.contains("<div class=\"finding sev-ok\" id=\"finding-live-keys\">"));
        assert!(html.contains("<div class=\"finding sev-warning\" id=\"finding-undocumented\">"));
        // Versions and clients.
        assert!(html.contains("<code>2024-06-20</code></th><td class=\"num\">5</td>"));
        assert!(html.contains("<code>PythonBindings/15.3.1</code>"));
        // Headers carry a scope.
        assert!(!html.contains("<th>"));
        // Self-contained: nothing fetched, nothing run.
        for banned in ["<script", "<link", "src=", "http://", "https://", "@import", "url("] {
            assert!(!html.contains(banned), "{banned}");
        }
    }

    #[test]
    fn hostile_strings_are_escaped_everywhere() {
        let evil = "<script>alert('x')</script>";
        let param = ParamUsage {
            path: format!("metadata[{evil}]"),
            requests: 1,
            documented: false,
            kinds: vec!["string".to_owned()],
            example: "<img src=x onerror=alert(1)> & \"q\"".to_owned(),
            closest: Some(evil.to_owned()),
            deprecated: true,
        };
        let finding = PathFinding {
            endpoint: evil.to_owned(),
            path: evil.to_owned(),
            requests: 1,
            closest: Some(evil.to_owned()),
        };
        let report = Report {
            report_version: 1,
            schema: evil.to_owned(),
            sources: vec![evil.to_owned()],
            totals: Totals {
                requests: 1,
                endpoints: 1,
                ..Totals::default()
            },
            endpoints: vec![EndpointReport {
                endpoint: format!("x\"{evil}"),
                method: evil.to_owned(),
                path: evil.to_owned(),
                requests: 1,
                statuses: BTreeMap::from([(200, 1)]),
                outcomes: BTreeMap::from([(evil.to_owned(), 1)]),
                params: vec![param],
                unused: vec![evil.to_owned()],
                coverage: Coverage { used: 0, documented: 0 },
            }],
            findings: Findings {
                card_data: vec![finding.clone()],
                live_keys: 2,
                invalid: vec![crate::audit::report::InvalidFinding {
                    endpoint: evil.to_owned(),
                    code: Some(evil.to_owned()),
                    param: evil.to_owned(),
                    message: evil.to_owned(),
                    requests: 1,
                }],
                undocumented: vec![finding.clone()],
                deprecated: vec![finding],
            },
            stripe_versions: BTreeMap::from([(evil.to_owned(), 1)]),
            clients: BTreeMap::from([(evil.to_owned(), 1)]),
        };
        let html = render(&report);
        assert!(!html.contains("<script"), "unescaped script tag");
        assert!(!html.contains("<img"), "unescaped img tag");
        assert!(!html.contains("alert('x')"), "unescaped quote");
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(html.contains("<code>&lt;img src=x onerror=alert(1)&gt; &amp; &quot;q&quot;</code>"));
        assert!(html.contains("id=\"endpoint-x--script-alert--x----script-\""));
        assert!(html.contains("<span class=\"badge deprecated\">deprecated</span>"));
        assert!(html.contains("<div class=\"finding sev-critical\" id=\"finding-live-keys\">"));
        assert!(html.contains("<div class=\"finding sev-notice\" id=\"finding-deprecated\">"));
        // No documented parameters: the coverage figure says so instead of dividing by zero.
        assert!(html.contains("(<strong class=\"coverage-percent\">n/a</strong>)"));
    }
}
