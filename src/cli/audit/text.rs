//! The audit report for people: aligned tables for a terminal (coloured when
//! it is one) and Markdown to paste into a pull request.

use std::fmt::Write;

use anstyle::{AnsiColor, Style};

use crate::cli::audit::report::{EndpointReport, Report};

const BAD: Style = AnsiColor::Red.on_default().bold();
const GOOD: Style = AnsiColor::Green.on_default();
const DIM: Style = AnsiColor::BrightBlack.on_default();
const HEAD: Style = Style::new().bold();

/// One table cell: its text and how to colour it.
struct Cell(String, Style);

impl Cell {
    fn plain(s: impl Into<String>) -> Cell {
        Cell(s.into(), Style::new())
    }
}

/// Columns padded to their widest cell; styles applied after padding so
/// escape codes never skew the alignment.
fn table(out: &mut String, headers: &[&str], rows: Vec<Vec<Cell>>, color: bool) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.0.chars().count());
        }
    }
    let paint = |s: &str, style: Style| {
        if color {
            format!("{style}{s}{style:#}")
        } else {
            s.to_owned()
        }
    };
    let line = |cells: Vec<(String, Style)>| {
        let last = cells.len().saturating_sub(1);
        let parts: Vec<String> = cells
            .into_iter()
            .enumerate()
            .map(|(i, (text, style))| {
                let pad = if i == last { 0 } else { widths[i] - text.chars().count() };
                format!("{}{}", paint(&text, style), " ".repeat(pad))
            })
            .collect();
        format!("  {}\n", parts.join("  "))
    };
    out.push_str(&line(headers.iter().map(|h| (h.to_string(), HEAD)).collect()));
    for row in rows {
        out.push_str(&line(row.into_iter().map(|c| (c.0, c.1)).collect()));
    }
}

/// One finding, for either renderer. `detail` may hold `code` spans.
struct FindingRow {
    kind: &'static str,
    critical: bool,
    endpoint: String,
    param: String,
    requests: usize,
    detail: String,
}

/// The report's findings as rows, most serious first.
fn finding_rows(report: &Report) -> Vec<FindingRow> {
    let f = &report.findings;
    let row = |kind, critical, endpoint: &str, param: &str, requests, detail: String| FindingRow {
        kind,
        critical,
        endpoint: endpoint.to_owned(),
        param: param.to_owned(),
        requests,
        detail,
    };
    let mut rows = Vec::new();
    for c in &f.card_data {
        let detail = "raw card data puts this app in PCI scope".to_owned();
        rows.push(row("card data", true, &c.endpoint, &c.path, c.requests, detail));
    }
    if f.live_keys > 0 {
        let detail = "requests authenticated with sk_live_/rk_live_".to_owned();
        rows.push(row("live keys", true, "*", "Authorization", f.live_keys, detail));
    }
    for i in &f.invalid {
        let code = i.code.as_deref().map(|c| format!("`{c}`: ")).unwrap_or_default();
        rows.push(row(
            "invalid",
            false,
            &i.endpoint,
            &i.param,
            i.requests,
            format!("{code}{}", i.message),
        ));
    }
    for u in &f.undocumented {
        let detail = u
            .closest
            .as_deref()
            .map(|c| format!("did you mean `{c}`?"))
            .unwrap_or_default();
        rows.push(row("undocumented", false, &u.endpoint, &u.path, u.requests, detail));
    }
    for d in &f.deprecated {
        let detail = "the schema marks it deprecated".to_owned();
        rows.push(row("deprecated", false, &d.endpoint, &d.path, d.requests, detail));
    }
    rows
}

fn percent(used: usize, of: usize) -> String {
    (used * 100)
        .checked_div(of)
        .map_or_else(|| "–".to_owned(), |p| format!("{p}%"))
}

fn statuses(e: &EndpointReport) -> String {
    e.statuses
        .iter()
        .map(|(s, n)| format!("{s}×{n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The terminal report; `color` adds ANSI styles.
pub fn render_text(report: &Report, color: bool) -> String {
    let paint = |s: &str, style: Style| {
        if color {
            format!("{style}{s}{style:#}")
        } else {
            s.to_owned()
        }
    };
    let t = &report.totals;
    let mut out = String::new();
    let _ = writeln!(out, "{}", paint(&format!("stripe-vcr audit — {}", report.schema), HEAD));
    let _ = writeln!(out, "sources: {}", report.sources.join(", "));
    let _ = writeln!(
        out,
        "{} requests on {} endpoints · {} invalid · {} undocumented parameters · {} with card data · {} with live keys\n",
        t.requests, t.endpoints, t.invalid_requests, t.undocumented_params, t.card_data_requests, t.live_key_requests
    );

    let rows: Vec<Vec<Cell>> = finding_rows(report)
        .into_iter()
        .map(|r| {
            vec![
                Cell(r.kind.to_owned(), BAD),
                Cell::plain(r.endpoint),
                Cell::plain(r.param),
                Cell::plain(r.requests.to_string()),
                Cell::plain(r.detail.replace('`', "")),
            ]
        })
        .collect();
    let _ = writeln!(out, "{}", paint("FINDINGS", HEAD));
    if rows.is_empty() {
        let _ = writeln!(out, "  {}\n", paint("none", GOOD));
    } else {
        table(
            &mut out,
            &["KIND", "ENDPOINT", "PARAMETER", "REQUESTS", "DETAIL"],
            rows,
            color,
        );
        out.push('\n');
    }

    for e in &report.endpoints {
        let _ = writeln!(
            out,
            "{}  {} {}  {} requests ({})  coverage {}/{} ({})",
            paint(&e.endpoint.to_uppercase(), HEAD),
            e.method,
            e.path,
            e.requests,
            statuses(e),
            e.coverage.used,
            e.coverage.documented,
            percent(e.coverage.used, e.coverage.documented)
        );
        let rows = e
            .params
            .iter()
            .map(|p| {
                vec![
                    Cell::plain(&p.path),
                    Cell::plain(p.requests.to_string()),
                    if p.documented {
                        Cell("yes".into(), GOOD)
                    } else {
                        Cell(
                            match &p.closest {
                                Some(c) => format!("NO (did you mean {c}?)"),
                                None => "NO".to_owned(),
                            },
                            BAD,
                        )
                    },
                    Cell::plain(p.kinds.join(", ")),
                    Cell(p.example.clone(), DIM),
                ]
            })
            .collect();
        table(
            &mut out,
            &["PARAMETER", "REQUESTS", "DOCUMENTED", "KINDS", "EXAMPLE"],
            rows,
            color,
        );
        if !e.unused.is_empty() {
            let _ = writeln!(out, "  never sent: {}", paint(&e.unused.join(", "), DIM));
        }
        out.push('\n');
    }
    for (title, counts) in [
        ("STRIPE-VERSION", &report.stripe_versions),
        ("CLIENTS", &report.clients),
        ("WEBHOOK EVENTS (SET/TYPE)", &report.webhook_events),
    ] {
        if counts.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{}", paint(title, HEAD));
        let rows = counts
            .iter()
            .map(|(k, n)| vec![Cell::plain(k), Cell::plain(n.to_string())])
            .collect();
        table(&mut out, &["VALUE", "REQUESTS"], rows, color);
        out.push('\n');
    }
    out
}

fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn md_table(out: &mut String, headers: &[&str], rows: Vec<Vec<String>>) {
    let _ = writeln!(out, "| {} |", headers.join(" | "));
    let _ = writeln!(out, "|{}", headers.iter().map(|_| "---|").collect::<String>());
    for row in rows {
        let _ = writeln!(out, "| {} |", row.iter().map(|c| md(c)).collect::<Vec<_>>().join(" | "));
    }
    out.push('\n');
}

/// The report as Markdown, for a pull request.
pub fn render_markdown(report: &Report) -> String {
    let t = &report.totals;
    let mut out = String::new();
    let _ = writeln!(out, "## stripe-vcr audit — {}\n", md(&report.schema));
    let _ = writeln!(out, "Sources: {}\n", md(&report.sources.join(", ")));
    let _ = writeln!(
        out,
        "**{}** requests on **{}** endpoints · **{}** invalid · **{}** undocumented parameters · **{}** with card data · **{}** with live keys\n",
        t.requests, t.endpoints, t.invalid_requests, t.undocumented_params, t.card_data_requests, t.live_key_requests
    );
    let rows: Vec<Vec<String>> = finding_rows(report)
        .into_iter()
        .map(|r| {
            let kind = if r.critical {
                format!("⚠️ {}", r.kind)
            } else {
                r.kind.to_owned()
            };
            vec![
                kind,
                r.endpoint,
                format!("`{}`", r.param),
                r.requests.to_string(),
                r.detail,
            ]
        })
        .collect();
    let _ = writeln!(out, "### Findings\n");
    if rows.is_empty() {
        let _ = writeln!(out, "None.\n");
    } else {
        md_table(&mut out, &["kind", "endpoint", "parameter", "requests", "detail"], rows);
    }
    for e in &report.endpoints {
        let _ = writeln!(
            out,
            "### {} — `{} {}`\n\n{} requests ({}); documented parameters used: {}/{} ({})\n",
            e.endpoint,
            e.method,
            e.path,
            e.requests,
            statuses(e),
            e.coverage.used,
            e.coverage.documented,
            percent(e.coverage.used, e.coverage.documented)
        );
        let rows = e
            .params
            .iter()
            .map(|p| {
                vec![
                    format!("`{}`", p.path),
                    p.requests.to_string(),
                    if p.documented {
                        "yes".to_owned()
                    } else {
                        p.closest
                            .as_deref()
                            .map(|c| format!("**no** (did you mean `{c}`?)"))
                            .unwrap_or("**no**".into())
                    },
                    p.kinds.join(", "),
                    format!("`{}`", p.example.replace('`', "'")),
                ]
            })
            .collect();
        md_table(
            &mut out,
            &["parameter", "requests", "documented", "kinds", "example"],
            rows,
        );
        if !e.unused.is_empty() {
            let _ = writeln!(
                out,
                "<details><summary>Documented, never sent ({})</summary>\n\n{}\n</details>\n",
                e.unused.len(),
                e.unused.iter().map(|u| format!("`{u}`")).collect::<Vec<_>>().join(", ")
            );
        }
    }
    for (title, counts) in [
        ("Stripe-Version", &report.stripe_versions),
        ("Clients (User-Agent)", &report.clients),
        ("Webhook events (set/type)", &report.webhook_events),
    ] {
        if counts.is_empty() {
            continue;
        }
        let _ = writeln!(out, "### {title}\n");
        md_table(
            &mut out,
            &["value", "requests"],
            counts
                .iter()
                .map(|(k, n)| vec![format!("`{k}`"), n.to_string()])
                .collect(),
        );
    }
    out
}
