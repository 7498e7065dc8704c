//! The load bench's output: the localcos / nginx / ratio table with the targets next to
//! each figure, localcos's memory, and one line per measurement.

use std::path::Path;
use std::time::SystemTime;

use crate::{Memory, Run, Scenario, Settings};
use crate::{LARGE, MEDIUM, RANGE, SMALL_16, SMALL_64};

const MIB: f64 = 1024.0 * 1024.0;
const GIB: f64 = 1024.0 * MIB;
/// "Range GET as fast as a plain 1 MiB GET": within 10 % of its req/s.
const RANGE_TOLERANCE: f64 = 0.9;
/// "Memory flat with object size": peak RSS while serving 64 MiB objects at most this much above
/// the lowest peak while serving 4 KiB ones (a server that buffers whole objects would need
/// 64 MiB per connection).
const FLAT_GROWTH_KIB: u64 = 16 * 1024;

pub struct Report<'a> {
    pub settings: &'a Settings,
    pub server_cpus: &'a [usize],
    pub client_cpus: &'a [usize],
    /// Load averages before and after the bench.
    pub load_average: &'a [String; 2],
    pub bin: &'a Path,
    pub nginx_version: &'a str,
    pub scenarios: &'a [Scenario],
    pub runs: &'a [Run],
    pub memory: &'a Memory,
}

/// One table row; `None` figures print as `-`.
struct Row {
    what: String,
    figure: &'static str,
    localcos: Option<f64>,
    nginx: Option<f64>,
    decimals: usize,
    target: &'static str,
    /// `Some(true)` = target met.
    verdict: Option<bool>,
}

impl Report<'_> {
    /// False when any request failed: then no figure can be trusted.
    pub fn valid(&self) -> bool {
        self.runs.iter().all(|r| r.outcome.errors == 0)
    }

    /// The best round (highest req/s) of `scenario` on `server` (0 = localcos, 1 = nginx).
    fn best(&self, scenario: usize, server: usize) -> Option<&Run> {
        self.runs
            .iter()
            .filter(|r| r.scenario == scenario && r.server == server)
            .max_by(|a, b| a.outcome.req_per_s().total_cmp(&b.outcome.req_per_s()))
    }

    /// `f` of the best round of `scenario`, for localcos and for nginx.
    fn both(&self, scenario: usize, f: impl Fn(&Run) -> f64) -> (Option<f64>, Option<f64>) {
        (
            self.best(scenario, 0).map(&f),
            self.best(scenario, 1).map(&f),
        )
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let invalid = self.invalid_banner();
        out.push_str(&invalid);
        out.push_str(&format!(
            "localcos load benchmark, {}\n\
             localcos: {}{}\n\
             nginx:    {} (1 worker process, sendfile on, tcp_nopush on, access_log off, keepalive_requests 1000000)\n\
             CPUs:     servers pinned to {}, load generator on {} ({} tokio worker thread(s))\n\
             machine:  load average {} before, {} after (1, 5, 15 min){}\n\
             runs:     {:.2} s warm-up + {:.2} s measured; {} round(s) alternating localcos, nginx; best round shown\n\
             requests: q-sign pre-signed GET URLs, path-style /{}/<key>, keep-alive, TCP_NODELAY; nginx gets the same path and query\n\n",
            httpdate::fmt_http_date(SystemTime::now()),
            self.bin.display(),
            match &self.settings.rust_log {
                Some(filter) => format!(" (RUST_LOG={filter})"),
                None => " (default logging: no access log, like nginx's access_log off)".to_owned(),
            },
            self.nginx_version,
            cpu_list(self.server_cpus),
            cpu_list(self.client_cpus),
            self.client_cpus.len().max(1),
            self.load_average[0],
            self.load_average[1],
            if self.settings.nice != 0 { format!("; bench processes at nice {}", self.settings.nice) } else { String::new() },
            self.settings.warmup,
            self.settings.seconds,
            self.settings.rounds,
            crate::BUCKET,
        ));
        out.push_str(&table(&self.rows()));
        out.push_str(&format!(
            "\nratio = localcos / nginx. For latency and CPU s/GiB lower is better; for req/s and MiB/s higher is.\n\
             CPU s/GiB = server user+system CPU seconds (/proc/<pid>/stat, nginx master + worker) during the\n\
             measured window divided by the GiB of bodies received; CPU µs/req likewise per request.\n\
             RSS = VmRSS, peak = VmHWM (reset through /proc/<pid>/clear_refs before each run), from\n\
             /proc/<pid>/status; nginx figures add master and worker. In the runs below, CPU% is of one CPU: srv = server,\n\
             gen = load generator, others = every other process on the machine (high = disturbed run).\n\n\
             every run, in the order taken:\n{}",
            self.run_table()
        ));
        out.push_str(&invalid);
        out
    }

    fn rows(&self) -> Vec<Row> {
        let rps = |r: &Run| r.outcome.req_per_s();
        let mib = |r: &Run| r.outcome.mib_per_s();
        let p50 = |r: &Run| r.outcome.quantile_ms(0.50);
        let p99 = |r: &Run| r.outcome.quantile_ms(0.99);
        let cpu_per_gib = |r: &Run| r.server_cpu / (r.outcome.bytes as f64 / GIB).max(1e-12);
        let cpu_per_request = |r: &Run| 1e6 * r.server_cpu / (r.outcome.requests as f64).max(1.0);
        let name = |s: usize| self.scenarios[s].name.to_owned();
        let mut rows = Vec::new();
        let mut add = |what: String,
                       figure,
                       (l, n): (Option<f64>, Option<f64>),
                       decimals,
                       target,
                       verdict| {
            rows.push(Row {
                what,
                figure,
                localcos: l,
                nginx: n,
                decimals,
                target,
                verdict,
            });
        };

        let small = self.both(SMALL_16, rps);
        add(
            name(SMALL_16),
            "req/s",
            small,
            0,
            "≥ 0.5× nginx",
            ratio(small).map(|r| r >= 0.5),
        );
        let small_p99 = self.both(SMALL_16, p99);
        add(
            name(SMALL_16),
            "p99 ms",
            small_p99,
            2,
            "p99 < 10 ms",
            small_p99.0.map(|l| l < 10.0),
        );
        add(
            name(SMALL_16),
            "p50 ms",
            self.both(SMALL_16, p50),
            2,
            "",
            None,
        );
        add(
            name(SMALL_16),
            "CPU µs/req",
            self.both(SMALL_16, cpu_per_request),
            1,
            "",
            None,
        );
        add(
            name(SMALL_64),
            "req/s",
            self.both(SMALL_64, rps),
            0,
            "(target is at 16 conn)",
            None,
        );
        add(
            name(SMALL_64),
            "p99 ms",
            self.both(SMALL_64, p99),
            2,
            "",
            None,
        );
        add(
            name(SMALL_64),
            "CPU µs/req",
            self.both(SMALL_64, cpu_per_request),
            1,
            "",
            None,
        );
        add(name(MEDIUM), "MiB/s", self.both(MEDIUM, mib), 0, "", None);
        add(name(MEDIUM), "p99 ms", self.both(MEDIUM, p99), 2, "", None);

        let (range, plain) = (self.both(RANGE, rps), self.both(MEDIUM, rps));
        let speedup = (div(range.0, plain.0), div(range.1, plain.1));
        add(
            name(RANGE),
            "MiB/s",
            self.both(RANGE, mib),
            0,
            "as fast as plain 1 MiB GET",
            None,
        );
        add(name(RANGE), "p99 ms", self.both(RANGE, p99), 2, "", None);
        add(
            "Range GET / plain 1 MiB GET".to_owned(),
            "req/s ratio",
            speedup,
            2,
            "≥ 0.9 (as fast as plain)",
            speedup.0.map(|s| s >= RANGE_TOLERANCE),
        );

        let large = self.both(LARGE, mib);
        add(
            name(LARGE),
            "MiB/s",
            large,
            0,
            "≥ 0.8× nginx",
            ratio(large).map(|r| r >= 0.8),
        );
        add(name(LARGE), "p99 ms", self.both(LARGE, p99), 1, "", None);

        for s in [MEDIUM, RANGE, LARGE] {
            add(
                format!("server CPU, {}", self.scenarios[s].name),
                "CPU s/GiB",
                self.both(s, cpu_per_gib),
                3,
                "",
                None,
            );
        }

        let m = self.memory;
        let kib = |k: u64| Some(k as f64 / 1024.0);
        add(
            "RSS idle (after start)".to_owned(),
            "MiB",
            (kib(m.idle), None),
            1,
            "localcos idle < 20 MiB",
            Some(m.idle < 20 * 1024),
        );
        add(
            "RSS after uploads".to_owned(),
            "MiB",
            (kib(m.after_upload), None),
            1,
            "",
            None,
        );
        let peaks = |s: usize, server: usize| {
            self.runs
                .iter()
                .filter(move |r| r.scenario == s && r.server == server)
                .map(|r| r.peak_rss)
        };
        // Highest peak of a scenario's rounds; the 4 KiB baseline below is the lowest instead,
        // so that memory left over from the uploads does not raise it.
        let peak = |s: usize, server: usize| peaks(s, server).max();
        let small_baseline = peaks(SMALL_16, 0).chain(peaks(SMALL_64, 0)).min();
        for s in 0..self.scenarios.len() {
            let what = format!("peak RSS during {}", self.scenarios[s].name);
            let (l, n) = (peak(s, 0), peak(s, 1));
            let figures = (l.and_then(kib), n.and_then(kib));
            if s == LARGE {
                let flat = l
                    .zip(small_baseline)
                    .map(|(l, small)| l <= small + FLAT_GROWTH_KIB);
                add(
                    what,
                    "MiB",
                    figures,
                    1,
                    "flat: ≤ lowest 4 KiB peak + 16 MiB",
                    flat,
                );
            } else {
                add(what, "MiB", figures, 1, "", None);
            }
        }
        add(
            "RSS after the 64 MiB runs".to_owned(),
            "MiB",
            (kib(m.after_runs[0]), kib(m.after_runs[1])),
            1,
            "",
            None,
        );
        rows
    }

    fn run_table(&self) -> String {
        let mut lines = vec![run_header()];
        lines.extend(self.runs.iter().map(|r| run_line(r, self.scenarios)));
        lines.join("\n") + "\n"
    }

    fn invalid_banner(&self) -> String {
        let failed: Vec<&Run> = self.runs.iter().filter(|r| r.outcome.errors > 0).collect();
        if failed.is_empty() {
            return String::new();
        }
        let mut out = String::from(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n",
        );
        out.push_str(
            "!!! INVALID BENCHMARK: requests failed; the figures below are not trustworthy.\n",
        );
        for r in failed {
            out.push_str(&format!(
                "!!! {} on {} (round {}): {} errors, first: {}\n",
                self.scenarios[r.scenario].name,
                server_name(r.server),
                r.round + 1,
                r.outcome.errors,
                r.outcome.first_error.as_deref().unwrap_or("?"),
            ));
        }
        out.push_str(
            "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n",
        );
        out
    }
}

/// Column titles for [`run_line`].
pub fn run_header() -> String {
    format!(
        "{:<38} {:<8} {:>5} {:>9} {:>8} {:>8} {:>8} {:>8} {:>6} {:>5} {:>5} {:>7} {:>8}",
        "scenario",
        "server",
        "round",
        "req/s",
        "MiB/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "errors",
        "srv%",
        "gen%",
        "others%",
        "peak MiB"
    )
}

/// One measurement as a line (also printed live while the bench runs).
pub fn run_line(run: &Run, scenarios: &[Scenario]) -> String {
    let o = &run.outcome;
    let secs = o.elapsed.as_secs_f64().max(1e-9);
    format!(
        "{:<38} {:<8} {:>5} {:>9.0} {:>8.1} {:>8.3} {:>8.3} {:>8.1} {:>6} {:>5.0} {:>5.0} {:>7.0} {:>8.1}",
        scenarios[run.scenario].name,
        server_name(run.server),
        run.round + 1,
        o.req_per_s(),
        o.mib_per_s(),
        o.quantile_ms(0.50),
        o.quantile_ms(0.99),
        o.latency_us.max() as f64 / 1000.0,
        o.errors,
        100.0 * run.server_cpu / secs,
        100.0 * run.client_cpu / secs,
        100.0 * run.others_cpu / secs,
        run.peak_rss as f64 / 1024.0,
    )
}

fn server_name(server: usize) -> &'static str {
    if server == 0 {
        "localcos"
    } else {
        "nginx"
    }
}

fn ratio((l, n): (Option<f64>, Option<f64>)) -> Option<f64> {
    div(l, n)
}

fn div(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

fn cpu_list(cpus: &[usize]) -> String {
    if cpus.is_empty() {
        return "any CPU (not pinned)".to_owned();
    }
    let list: Vec<String> = cpus.iter().map(usize::to_string).collect();
    format!("CPU {}", list.join(","))
}

/// Renders rows as an aligned, Markdown-compatible table.
fn table(rows: &[Row]) -> String {
    let header = [
        "scenario",
        "figure",
        "localcos",
        "nginx",
        "ratio",
        "target (issue)",
        "verdict",
    ];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.what.clone(),
                r.figure.to_owned(),
                number(r.localcos, r.decimals),
                number(r.nginx, r.decimals),
                number(
                    ratio((r.localcos, r.nginx)).filter(|_| r.figure != "req/s ratio"),
                    2,
                ),
                r.target.to_owned(),
                match r.verdict {
                    Some(true) => "ok".to_owned(),
                    Some(false) => "MISS".to_owned(),
                    None => String::new(),
                },
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |row: &[String; 7]| {
        let padded: Vec<String> = row
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (c, w))| {
                let pad = " ".repeat(w - c.chars().count());
                // Columns 2..=4 are numbers: right-aligned, titles included.
                if (2..=4).contains(&i) {
                    format!("{pad}{c}")
                } else {
                    format!("{c}{pad}")
                }
            })
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(&header.map(str::to_owned));
    // Markdown alignment row: number columns end in `:`.
    let rule: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if (2..=4).contains(&i) {
                format!("{}:", "-".repeat(w + 1))
            } else {
                "-".repeat(w + 2)
            }
        })
        .collect();
    out.push_str(&format!("|{}|\n", rule.join("|")));
    for row in &cells {
        out.push_str(&line(row));
    }
    out
}

/// `12,345` for integers, fixed decimals otherwise, `-` when absent.
fn number(value: Option<f64>, decimals: usize) -> String {
    let Some(v) = value else {
        return "-".to_owned();
    };
    if decimals > 0 {
        return format!("{v:.decimals$}");
    }
    let digits = format!("{:.0}", v.abs());
    let mut grouped = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    if v < 0.0 {
        format!("-{grouped}")
    } else {
        grouped
    }
}
