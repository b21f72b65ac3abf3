//! The pages kscale writes, opened in a real browser (headless Chromium): a run's
//! `report.html` (examples/quickstart), a compare page of two runs and a sweep page
//! (`kscale headroom` over two settings). Each page must run without a JavaScript error, show
//! its verdict and have drawn every chart with data (the page's script writes its status as
//! JSON into `#kscale-status` and sets `data-kscale` on `<html>` once every chart has drawn);
//! screenshots are saved under `target/test-artifacts/report-browser/`.
//!
//! Needs `chromium` (Debian's package; `.ci/run` installs it) or `KSCALE_CHROMIUM=PATH`.
//! Without one the test is skipped with a message, unless `KSCALE_REQUIRE_CHROMIUM=1` (which
//! `.ci/run` sets after installing it): then it fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Longest a browser may take to load and draw a page.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(60);

mod common;
use common::{kscale, repo_root};

/// The browser: `KSCALE_CHROMIUM`, else the first of Chromium's usual names on `PATH`.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KSCALE_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for name in [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ] {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Runs the browser with `args` (and the flags every run gets, with a user data directory of
/// its own), killing it after [`BROWSER_TIMEOUT`]; returns its standard output.
fn browser(bin: &Path, args: &[String]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--hide-scrollbars",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    // Read the pipes on threads, so a full pipe cannot stall the browser.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{} {args:?} did not finish within {BROWSER_TIMEOUT:?}",
                bin.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = out.join().unwrap();
    let stderr = err.join().unwrap();
    assert!(
        status.success(),
        "{} {args:?} failed ({status}):\n{stderr}",
        bin.display()
    );
    stdout
}

/// Text of an element's content as the DOM dump escapes it.
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// A page as the browser left it: the DOM after the scripts ran and the page's status.
struct Opened {
    dom: String,
    status: Value,
}

/// Opens `page` in the browser: dumps its DOM after the scripts ran and saves a screenshot as
/// `artifacts/NAME.png`.
fn open(bin: &Path, page: &Path, name: &str, artifacts: &Path) -> Opened {
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    // The page's self-test (zoom, reset, event filter and pages) runs after drawing.
    let dom = browser(
        bin,
        &["--dump-dom".into(), format!("{url}#kscale-selftest")],
    );
    let html_tag = &dom[dom.find("<html").unwrap_or(0)..];
    let html_tag = &html_tag[..html_tag.find('>').unwrap_or(0)];
    let start = dom
        .find("<pre id=\"kscale-status\"")
        .unwrap_or_else(|| panic!("{name}: no #kscale-status in the DOM: did the script run?"));
    let text = &dom[start..];
    let text = &text[text.find('>').unwrap() + 1..text.find("</pre>").unwrap()];
    let status: Value = serde_json::from_str(&unescape(text))
        .unwrap_or_else(|e| panic!("{name}: status {text}: {e}"));
    assert_eq!(
        status["errors"],
        Value::Array(vec![]),
        "{name}: JavaScript errors"
    );
    assert!(
        html_tag.contains("data-kscale=\"ok\""),
        "{name}: the page did not finish drawing ({html_tag}): {status}"
    );
    let shot = artifacts.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&shot);
    browser(
        bin,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,4000".into(),
            url,
        ],
    );
    assert!(
        std::fs::metadata(&shot).is_ok_and(|m| m.len() > 10_000),
        "{name}: no screenshot at {}",
        shot.display()
    );
    Opened { dom, status }
}

/// Every chart of the page drew, each with points.
fn assert_charts_drawn(name: &str, page: &Path, o: &Opened) {
    let html = std::fs::read_to_string(page).unwrap();
    let figures = html.matches("<figure class=\"kchart\"").count();
    let charts = o.status["charts"].as_array().unwrap();
    assert!(figures > 0, "{name}: no charts");
    assert_eq!(charts.len(), figures, "{name}: every chart is drawn");
    for c in charts {
        assert_eq!(c["drawn"], true, "{name}: {c}");
        assert!(
            c["points"].as_u64().unwrap() > 0,
            "{name}: chart drew no points: {c}"
        );
        assert!(c["points"].as_u64() <= c["dataPoints"].as_u64(), "{c}");
    }
    // uPlot drew into a canvas per chart.
    assert!(o.dom.matches("<canvas").count() >= figures, "{name}");
}

/// The run's event table (drawn by the page's script from its compressed chunks) holds every
/// event of `run/events.jsonl`: the counts, the first page, the self-test's filters (the
/// reason of the first event, text within one field and across fields) and the last page,
/// whose last row is the last line of `events.jsonl`.
fn assert_event_table(name: &str, run: &Path, o: &Opened) {
    let jsonl = std::fs::read_to_string(run.join("events.jsonl")).unwrap();
    let events: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let n = events.len() as u64;
    let table = &o.status["events"];
    assert!(n > 10, "{name}: {table}");
    assert_eq!(table["total"], n, "{name}: {table}");
    assert_eq!(table["embedded"], n, "{name}: every event is in the page");
    assert_eq!(table["loaded"], n, "{name}: every event unpacked: {table}");
    assert_eq!(table["ready"], true, "{name}: {table}");
    assert_eq!(table["rendered"].as_u64().unwrap(), n.min(100), "{name}");
    let t = &o.status["selftest"];
    assert_eq!(t["finished"], true, "{name}: {t}");
    assert_eq!(t["eventsAll"], n, "{name}: {t}");
    let haystack = |e: &Value| {
        let o = &e["involvedObject"];
        format!(
            "{} {} {}/{} {}",
            e["reason"].as_str().unwrap(),
            o["kind"].as_str().unwrap(),
            o["namespace"].as_str().unwrap(),
            o["name"].as_str().unwrap(),
            e["message"].as_str().unwrap()
        )
        .to_lowercase()
    };
    let matching = |text: &str| events.iter().filter(|e| haystack(e).contains(text)).count();
    assert_eq!(
        t["eventsMatchingPreempt"],
        matching("preempt"),
        "{name}: {t}"
    );
    assert!(matching("default/") > 0, "{name}");
    assert_eq!(
        t["eventsMatchingSpaced"],
        matching("default/"),
        "{name}: {t}"
    );
    let first = events[0]["reason"].as_str().unwrap();
    let same = events.iter().filter(|e| e["reason"] == first).count();
    assert_eq!(t["eventsFirstReason"], same, "{name}: {t}");
    if n > 100 {
        assert_eq!(t["eventsPage2"], 2, "{name}: {t}");
    }
    // Paged to the end: the last page ends with the last event.
    let last = &t["eventsLast"];
    let pages = n.div_ceil(100);
    assert_eq!(last["page"], pages, "{name}: {last}");
    assert_eq!(last["pages"], pages, "{name}: {last}");
    assert_eq!(last["rows"], n - (pages - 1) * 100, "{name}: {last}");
    assert_eq!(last["event"], n, "{name}: {last}");
    let e = events.last().unwrap();
    let obj = &e["involvedObject"];
    let cells: Vec<&str> = last["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(
        cells,
        [
            kscale_report::format_hms(e["time"].as_f64().unwrap()).as_str(),
            e["type"].as_str().unwrap(),
            e["reason"].as_str().unwrap(),
            obj["kind"].as_str().unwrap(),
            obj["namespace"].as_str().unwrap(),
            obj["name"].as_str().unwrap(),
            e["message"].as_str().unwrap(),
        ],
        "{name}: the last row is the last event"
    );
}

fn run(args: &[&str], root: &Path) {
    let o = kscale()
        .args(args)
        .current_dir(root)
        .env("CI", "true")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "kscale {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn pages_draw_in_a_real_browser() {
    let Some(bin) = chromium() else {
        if std::env::var("KSCALE_REQUIRE_CHROMIUM").as_deref() == Ok("1") {
            panic!("KSCALE_REQUIRE_CHROMIUM=1 but no chromium on PATH (nor KSCALE_CHROMIUM)");
        }
        eprintln!(
            "skipped pages_draw_in_a_real_browser: no chromium on PATH (apt-get install chromium, \
             or set KSCALE_CHROMIUM); set KSCALE_REQUIRE_CHROMIUM=1 to fail instead"
        );
        return;
    };
    let root = repo_root();
    let tmp = tempfile::tempdir().unwrap();
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("test-artifacts/report-browser");
    std::fs::create_dir_all(&artifacts).unwrap();
    let dir = |n: &str| tmp.path().join(n).display().to_string();

    // A run: the verdict, charts with markers for its steps and events, the event table.
    run(
        &[
            "run",
            "examples/quickstart/scenario.yaml",
            "--out",
            &dir("quickstart"),
        ],
        &root,
    );
    let page = tmp.path().join("quickstart/report.html");
    let o = open(&bin, &page, "run-quickstart", &artifacts);
    assert!(
        o.dom
            .contains("<div class=\"verdict fail\">FAIL: 0.3% of requests lost</div>"),
        "the run's verdict"
    );
    assert_charts_drawn("run", &page, &o);
    let markers = &o.status["markers"];
    assert!(
        markers["total"].as_u64().unwrap() >= 6 && markers["drawn"].as_u64().unwrap() > 0,
        "kubectl steps and key events are marked: {markers}"
    );
    assert!(
        o.dom.contains("<td>Preempted</td>"),
        "the event table lists the preemption"
    );
    // Interaction: zooming one chart zooms all, "reset zoom" undoes it.
    let t = &o.status["selftest"];
    assert_eq!(t["finished"], true, "{t}");
    assert_eq!(t["zoomFollowed"], true, "{t}");
    assert_eq!(t["zoomReset"], true, "{t}");
    let zoomed = t["pointsZoomed"].as_u64().unwrap();
    let all = o.status["charts"][0]["dataPoints"].as_u64().unwrap();
    assert!(
        zoomed > 0 && zoomed < all,
        "half the time range: {zoomed} of {all}"
    );
    assert_event_table("run", &tmp.path().join("quickstart"), &o);

    // A larger run (a 200-node benchmark half-day, some 50,000 events: the page's event data
    // in two compressed chunks): every event in the table, to the last one.
    run(
        &[
            "bench-scenario",
            "--peak-nodes",
            "200",
            "--duration",
            "12h",
            "--out",
            &dir("bench-src"),
        ],
        &root,
    );
    run(
        &[
            "run",
            &format!("{}/scenario.yaml", dir("bench-src")),
            "--out",
            &dir("bench"),
        ],
        &root,
    );
    let page = tmp.path().join("bench/report.html");
    let o = open(&bin, &page, "run-bench", &artifacts);
    assert_charts_drawn("bench", &page, &o);
    assert!(
        o.status["events"]["chunks"].as_u64().unwrap() >= 2,
        "{}",
        o.status["events"]
    );
    assert_event_table("bench", &tmp.path().join("bench"), &o);

    // A compare page of two runs: the verdicts side by side, every run's line overlaid.
    run(
        &[
            "run",
            "examples/seed001/domino.yaml",
            "--out",
            &dir("domino"),
        ],
        &root,
    );
    run(
        &[
            "compare",
            &dir("quickstart"),
            &dir("domino"),
            "--out",
            &dir("compare"),
        ],
        &root,
    );
    let page = tmp.path().join("compare/report.html");
    let o = open(&bin, &page, "compare", &artifacts);
    assert!(o.dom.contains("<section id=\"verdict\">"), "the verdicts");
    assert!(o.dom.contains("<td class=\"bad\">FAIL</td>"));
    assert_charts_drawn("compare", &page, &o);
    let nodes = &o.status["charts"][0];
    assert_eq!(nodes["series"], 2, "both runs' lines: {nodes}");
    assert!(
        o.status["markers"]["drawn"].as_u64().unwrap() > 0,
        "both runs' steps and key events are marked: {}",
        o.status["markers"]
    );
    assert!(
        o.dom
            .contains("quickstart: $ kubectl scale deployment web --replicas=5")
    );

    // A sweep page: kscale headroom over two settings.
    run(
        &[
            "headroom",
            "examples/headroom/scenario.yaml",
            "--pause",
            "deployment/dummy-app",
            "--workload",
            "deployment/nginx-app",
            "--replicas",
            "0,3",
            "--max-p99",
            "30s",
            "--out",
            &dir("headroom"),
        ],
        &root,
    );
    let page = tmp.path().join("headroom/report.html");
    let o = open(&bin, &page, "sweep-headroom", &artifacts);
    assert!(
        o.dom
            .contains("<div class=\"verdict ok\">OK: 3 replicas of"),
        "the sweep's verdict"
    );
    assert_charts_drawn("sweep", &page, &o);
    assert!(o.dom.contains("kscale sweep · 2 settings") && !o.dom.contains("id=\"events\""));
    assert!(
        o.dom
            .contains("{\"label\":\"target p99 30s\",\"value\":30}"),
        "the target line"
    );
    eprintln!("screenshots: {}", artifacts.display());
}
