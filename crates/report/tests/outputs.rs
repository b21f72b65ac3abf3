//! Run directories written by `write_outputs` and `RunWriter`.

use std::fs;
use std::path::Path;

use kscale_report::{
    ChartSpec, EventRecord, InvolvedObject, MARKER, MAX_HTML_EVENT_BYTES, OUTPUT_FILES,
    ReportErrorKind, RunOutput, RunWriter, TimeSeries, TranscriptEntry, WriteOptions,
    write_outputs, write_outputs_with,
};
use serde_json::json;

fn event(time: f64, type_: &str, reason: &str, name: &str, message: &str) -> EventRecord {
    EventRecord {
        time,
        type_: type_.to_owned(),
        reason: reason.to_owned(),
        involved_object: InvolvedObject {
            kind: "Pod".to_owned(),
            namespace: "default".to_owned(),
            name: name.to_owned(),
        },
        message: message.to_owned(),
        source: "default-scheduler".to_owned(),
    }
}

fn sample() -> RunOutput {
    RunOutput {
        name: "burst <scale> & \"drain\"".to_owned(),
        summary: json!({
            "scenario": "burst",
            "durationSeconds": 3600,
            "peakNodes": 7,
            "cost": {"total": 12.345678912, "currency": "USD"},
            "pods": {"scheduled": 120, "pending": 0, "phases": ["Running", "Succeeded"]},
            "ok": true,
            "note": null
        }),
        events: vec![
            event(
                0.0,
                "Normal",
                "Scheduled",
                "web-1",
                "Successfully assigned default/web-1 to node-a",
            ),
            event(
                65.5,
                "Warning",
                "FailedScheduling",
                "web-2",
                "0/3 nodes are available: 3 Insufficient cpu. <script>alert(1)</script>",
            ),
        ],
        transcript: vec![
            TranscriptEntry {
                at: 0.0,
                command: "kubectl apply -f deploy.yaml".to_owned(),
                exit_code: 0,
                stdout: "deployment.apps/web created\n".to_owned(),
                stderr: String::new(),
            },
            TranscriptEntry {
                at: 300.0,
                command: "kubectl get pod missing".to_owned(),
                exit_code: 1,
                stdout: String::new(),
                stderr: "Error from server (NotFound): pods \"missing\" not found\n".to_owned(),
            },
        ],
        timeseries: TimeSeries {
            columns: vec![
                "time_s".into(),
                "nodes".into(),
                "pending_pods".into(),
                "cpu_util".into(),
            ],
            rows: vec![
                vec![0.0, 3.0, 0.0, 0.25],
                vec![60.0, 3.0, 5.0, 0.1 + 0.2],
                vec![120.0, 4.0, f64::NAN, 2.0 / 3.0],
                vec![180.0, 7.0, 1.0, 1e-7],
            ],
            x_label: None,
        },
        charts: vec![
            ChartSpec {
                guides: vec![],
                title: "Nodes & pending pods".into(),
                y_label: "count".into(),
                series: vec!["nodes".into(), "pending_pods".into()],
            },
            ChartSpec {
                guides: vec![],
                title: "CPU utilisation".into(),
                y_label: "fraction".into(),
                series: vec!["cpu_util".into()],
            },
        ],
    }
}

fn read(dir: &Path, file: &str) -> String {
    fs::read_to_string(dir.join(file)).unwrap()
}

/// Chart `i` of a page: its data, as JSON or compressed.
fn page_chart(html: &str, i: usize) -> serde_json::Value {
    let script = html.split("<figure class=\"kchart\"").nth(i + 1).unwrap();
    let script = &script[script.find("<script").unwrap()..script.find("</script>").unwrap()];
    let (open, data) = script.split_once('>').unwrap();
    if open.contains("data-encoding=\"gzip\"") {
        serde_json::from_str(&gunzip_base64(data)).unwrap()
    } else {
        assert!(open.contains("type=\"application/json\""), "{open}");
        serde_json::from_str(data).unwrap()
    }
}

/// Base64 text of gzip-compressed UTF-8, unpacked.
fn gunzip_base64(text: &str) -> String {
    use base64::Engine as _;
    use std::io::Read as _;
    let packed = base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap();
    let mut out = String::new();
    flate2::read::GzDecoder::new(&packed[..])
        .read_to_string(&mut out)
        .unwrap();
    out
}

/// The event table of a page: its counts (`#kscale-events`) and its events unpacked from the
/// compressed chunks, each as `[time_s, type, reason, kind, namespace, name, message]`
/// (as the page's script decodes them).
fn page_events(html: &str) -> (serde_json::Value, Vec<serde_json::Value>) {
    let head = html.split("id=\"kscale-events\">").nth(1).unwrap();
    let head: serde_json::Value =
        serde_json::from_str(&head[..head.find("</script>").unwrap()]).unwrap();
    let mut dicts: Vec<Vec<String>> = vec![Vec::new(); 6];
    let mut rows = Vec::new();
    let opening = "<script type=\"application/octet-stream\" class=\"kscale-event-chunk\">";
    let chunks: Vec<&str> = html
        .split(opening)
        .skip(1)
        .map(|c| &c[..c.find("</script>").unwrap()])
        .collect();
    assert_eq!(head["chunks"], chunks.len());
    for chunk in chunks {
        let json = gunzip_base64(chunk);
        let c: serde_json::Value = serde_json::from_str(&json).unwrap();
        let times = c["time"].as_array().unwrap();
        // Each chunk has dictionaries of its own.
        dicts.iter_mut().for_each(Vec::clear);
        let mut seen = [0u64; 6];
        for (k, name) in [
            "types",
            "reasons",
            "kinds",
            "namespaces",
            "names",
            "messages",
        ]
        .iter()
        .enumerate()
        {
            for s in c[name].as_array().unwrap() {
                dicts[k].push(s.as_str().unwrap().to_owned());
            }
        }
        let mut ms = 0;
        for (j, t) in times.iter().enumerate() {
            ms = if j == 0 { 0 } else { ms } + t.as_i64().unwrap();
            let mut row = vec![json!(ms as f64 / 1000.0)];
            for (k, col) in ["type", "reason", "kind", "namespace", "name", "message"]
                .iter()
                .enumerate()
            {
                let v = c[col][j].as_u64().unwrap();
                let id = if k >= 4 {
                    let id = seen[k] - v;
                    if v == 0 {
                        seen[k] += 1;
                    }
                    id
                } else {
                    v
                };
                row.push(json!(dicts[k][id as usize]));
            }
            rows.push(json!(row));
        }
    }
    assert_eq!(head["embedded"], rows.len());
    (head, rows)
}

/// Names in `parent` that look like our staging or aside directories.
fn leftovers(parent: &Path) -> Vec<String> {
    fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".partial-") || n.contains(".old-"))
        .collect()
}

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn writes_exact_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let out = sample();
    write_outputs(&dir, &out).unwrap();

    let mut names: Vec<_> = snapshot(&dir).into_iter().map(|(n, _)| n).collect();
    names.sort();
    let mut expected: Vec<_> = OUTPUT_FILES.iter().map(|s| s.to_string()).collect();
    expected.push(MARKER.to_string());
    expected.sort();
    assert_eq!(names, expected);
    assert!(leftovers(tmp.path()).is_empty());

    let summary = read(&dir, "summary.json");
    assert!(
        summary.ends_with("}\n") && summary.contains("\n  \"scenario\": \"burst\""),
        "{summary}"
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&summary).unwrap(),
        out.summary
    );

    let events: Vec<_> = read(&dir, "events.jsonl")
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        events,
        [
            r#"{"time":0.0,"type":"Normal","reason":"Scheduled","involvedObject":{"kind":"Pod","namespace":"default","name":"web-1"},"message":"Successfully assigned default/web-1 to node-a","source":"default-scheduler"}"#,
            r#"{"time":65.5,"type":"Warning","reason":"FailedScheduling","involvedObject":{"kind":"Pod","namespace":"default","name":"web-2"},"message":"0/3 nodes are available: 3 Insufficient cpu. <script>alert(1)</script>","source":"default-scheduler"}"#,
        ]
    );
    assert!(read(&dir, "events.jsonl").ends_with("}\n"));

    assert_eq!(
        read(&dir, "transcript.jsonl"),
        concat!(
            r#"{"at":0.0,"command":"kubectl apply -f deploy.yaml","exitCode":0,"stdout":"deployment.apps/web created\n","stderr":""}"#,
            "\n",
            r#"{"at":300.0,"command":"kubectl get pod missing","exitCode":1,"stdout":"","stderr":"Error from server (NotFound): pods \"missing\" not found\n"}"#,
            "\n",
        )
    );

    assert_eq!(
        read(&dir, "timeseries.csv"),
        "time_s,nodes,pending_pods,cpu_util\n0,3,0,0.25\n60,3,5,0.3\n120,4,,0.666667\n180,7,1,0.0000001\n"
    );
}

#[test]
fn html_is_self_contained_and_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    write_outputs(&dir, &sample()).unwrap();
    let html = read(&dir, "report.html");

    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<h1>burst &lt;scale&gt; &amp; &quot;drain&quot;</h1>"));
    assert!(!html.contains("<scale>") && !html.contains("<script>alert"));
    // Data is embedded as JSON with `<`, `>` and `&` escaped, or compressed in base64:
    // nothing can close a script.
    assert_eq!(
        html.matches("<script type=\"application/json\" class=\"kchart-data\">")
            .count(),
        2
    );
    assert_eq!(html.matches("<figure class=\"kchart\"").count(), 2);
    // Our scripts only: charts, markers, the events (counts and a chunk), the error recorder,
    // uPlot and the page's script.
    assert_eq!(html.matches("<script").count(), 2 + 3 + 3);
    assert_eq!(html.matches("</script>").count(), 2 + 3 + 3);
    assert!(html.contains("uPlot"), "the charting library is inline");
    for name in [
        "\"nodes\"",
        "\"pending_pods\"",
        "\"cpu_util\"",
        "Nodes &amp; pending pods",
        "CPU utilisation",
        "\"unit\":\"count\",\"int\":true",
        "\"unit\":\"fraction\",\"int\":false",
    ] {
        assert!(html.contains(name), "missing {name}");
    }
    // The data: x in seconds, a NaN sample is a gap (null), numbers as in timeseries.csv.
    assert!(html.contains("\"x\":[0,60,120,180]"));
    assert!(html.contains("\"data\":[0,5,null,1]"));
    assert!(html.contains("\"data\":[0.25,0.3,0.666667,0.0000001]"));
    // Markers: both kubectl steps.
    assert!(html.contains("[300,0,\"$ kubectl get pod missing (exit code 1)\"]"));
    // Events: all of them, compressed (their text is not in the page as it is).
    assert!(html.contains("\"total\":2,\"embedded\":2,\"warnings\":1,\"chunks\":1,"));
    assert!(!html.contains("web-2"));
    let (_, rows) = page_events(&html);
    assert_eq!(
        rows,
        [
            json!([
                0.0,
                "Normal",
                "Scheduled",
                "Pod",
                "default",
                "web-1",
                "Successfully assigned default/web-1 to node-a"
            ]),
            json!([
                65.5,
                "Warning",
                "FailedScheduling",
                "Pod",
                "default",
                "web-2",
                "0/3 nodes are available: 3 Insufficient cpu. <script>alert(1)</script>"
            ]),
        ]
    );

    // Self-contained: nothing fetched (uPlot's own code names no URL to load).
    assert!(!html.contains("<link") && !html.contains("<img") && !html.contains(" src="));
    assert!(!html.contains("NaN"));

    // Summary: scalars and one level of nesting.
    assert!(html.contains("<td>durationSeconds</td><td>3600</td>"));
    assert!(html.contains("<th colspan=\"2\">cost</th>"));
    assert!(html.contains("<td class=\"nested\">total</td><td>12.345679</td>"));
    assert!(html.contains("<td class=\"nested\">phases</td><td>Running, Succeeded</td>"));
    // Transcript (the event table is drawn by the page's script from the JSON above; the
    // browser test in crates/cli/tests/report_browser.rs checks it renders).
    assert!(html.contains("<span class=\"time\">0:05:00</span>$ kubectl get pod missing"));
    assert!(html.contains("exit code 1"));
    assert!(html.contains("<pre class=\"stderr\">Error from server (NotFound): pods &quot;missing&quot; not found\n</pre>"));
}

#[test]
fn many_events_are_all_in_the_table_and_long_series_downsampled() {
    let mut out = sample();
    // More than one chunk of events (32,768 each), times in milliseconds, strings repeated
    // near and far.
    let n = 40_000;
    out.events = (0..n)
        .map(|i| {
            let (type_, reason) = match i % 7 {
                0 => ("Warning", "FailedScheduling"),
                1 | 2 => ("Normal", "Scheduled"),
                _ => ("Normal", "Started"),
            };
            let name = format!("p-{}", i % 3000);
            let message = format!("message {} of {}", i % 777, name);
            event(i as f64 * 0.125 + 3.5, type_, reason, &name, &message)
        })
        .collect();
    out.timeseries.rows = (0..20_000)
        .map(|i| {
            let t = i as f64 * 5.0;
            vec![
                t,
                (i % 10) as f64,
                if i == 12_345 { 999.0 } else { 1.0 },
                0.5,
            ]
        })
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    write_outputs(&dir, &out).unwrap();
    let html = read(&dir, "report.html");
    // Every event is in the page's table, as it was.
    assert!(html.contains("\"total\":40000,\"embedded\":40000,\"warnings\":5715,\"chunks\":2,"));
    assert!(!html.contains("events-cut"));
    let (_, rows) = page_events(&html);
    for (row, e) in rows.iter().zip(&out.events) {
        let o = &e.involved_object;
        assert_eq!(
            row,
            &json!([
                e.time,
                e.type_,
                e.reason,
                o.kind,
                o.namespace,
                o.name,
                e.message
            ])
        );
    }
    // 20,000 samples drawn as 2,000 buckets' minimum and maximum: the spike survives. The
    // chart's data is large enough to be compressed.
    assert!(html.contains(
        "<script type=\"application/octet-stream\" data-encoding=\"gzip\" class=\"kchart-data\">"
    ));
    let chart = page_chart(&html, 0);
    assert_eq!(chart["rows"], 20000);
    assert_eq!(chart["x"].as_array().unwrap().len(), 4000);
    assert!(
        chart["series"][1]["data"]
            .as_array()
            .unwrap()
            .contains(&json!(999))
    );
    assert!(html.len() < 1_000_000, "report size {}", html.len());
    assert_eq!(read(&dir, "events.jsonl").lines().count(), n);
    assert_eq!(read(&dir, "timeseries.csv").lines().count(), 20_001);
}

#[test]
fn events_beyond_the_page_budget_are_counted_and_said() {
    // The default budget holds a 1,000-node benchmark day's 463,852 events (some 21 MB).
    const { assert!(MAX_HTML_EVENT_BYTES >= 100_000_000) };
    let mut out = sample();
    let long = "x".repeat(90);
    let n = 3000;
    out.events = (0..n)
        .map(|i| {
            let reason = if i % 100 == 0 {
                "Preempted"
            } else {
                "Scheduled"
            };
            event(
                i as f64,
                "Normal",
                reason,
                &format!("p-{i}"),
                &format!("{i} {long}"),
            )
        })
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let budget = 100_000;
    let options = WriteOptions {
        html_event_bytes: Some(budget),
        ..WriteOptions::default()
    };
    write_outputs_with(&dir, &out, options).unwrap();
    let html = read(&dir, "report.html");
    let (head, rows) = page_events(&html);
    let embedded = rows.len();
    // Some 120 bytes an event: the budget holds some 800 of them, the first ones.
    assert!(embedded > 700 && embedded < 900, "{embedded} of {n}");
    let bytes = head["bytes"].as_u64().unwrap() as usize;
    assert!(bytes <= budget && bytes > budget - 200, "{bytes}");
    assert_eq!(rows.last().unwrap()[6], format!("{} {long}", embedded - 1));
    assert!(html.contains(&format!("\"total\":{n},\"embedded\":{embedded},")));
    assert!(html.contains("id=\"events-cut\""));
    let cut = &html[html.find("id=\"events-cut\"").unwrap()..];
    assert!(
        cut.starts_with(&format!(
            "id=\"events-cut\">This page holds the first {embedded} of 3,000 events (at most 0.1 MB \
             of them before compression); the last {},{:03} are only in",
            (n - embedded) / 1000,
            (n - embedded) % 1000
        )),
        "{}",
        &cut[..300]
    );
    assert!(html.len() < 200_000, "{}", html.len());
    // Key events are marked on the charts whether or not their row fits.
    assert!(html.contains(&format!("Preempted Pod/p-{}", (n - 1) / 100 * 100)));
    // The same with the events streamed.
    let streamed = tmp.path().join("streamed");
    let mut w = RunWriter::start_with(&streamed, options).unwrap();
    let mut rest = out.clone();
    for _ in 0..3 {
        w.events(rest.events.drain(..1000).collect()).unwrap();
    }
    w.finish(&mut rest).unwrap();
    assert_eq!(snapshot(&streamed), snapshot(&dir));
}

#[test]
fn deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    write_outputs(&a, &sample()).unwrap();
    write_outputs(&b, &sample()).unwrap();
    assert_eq!(snapshot(&a), snapshot(&b));
    // Rewriting the same directory gives the same bytes too.
    write_outputs(&a, &sample()).unwrap();
    assert_eq!(snapshot(&a), snapshot(&b));
}

#[test]
fn replaces_empty_dir_and_earlier_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    fs::create_dir(&dir).unwrap();
    write_outputs(&dir, &sample()).unwrap();

    // An earlier run, even with fewer files, is replaced as a whole.
    fs::remove_file(dir.join("events.jsonl")).unwrap();
    fs::write(dir.join("timeseries.csv"), "stale").unwrap();
    let mut out = sample();
    out.name = "second".into();
    write_outputs(&dir, &out).unwrap();
    assert!(read(&dir, "report.html").contains("<h1>second</h1>"));
    assert!(read(&dir, "timeseries.csv").starts_with("time_s,"));
    assert_eq!(snapshot(&dir).len(), OUTPUT_FILES.len() + 1);
    assert!(leftovers(tmp.path()).is_empty());

    // Missing parents are created.
    let nested = tmp.path().join("x/y/run");
    write_outputs(&nested, &out).unwrap();
    assert_eq!(snapshot(&nested).len(), OUTPUT_FILES.len() + 1);
}

#[test]
fn refuses_foreign_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("mine");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("summary.json"), "my own").unwrap();
    fs::write(dir.join("thesis.tex"), "precious").unwrap();
    let before = snapshot(&dir);

    let err = write_outputs(&dir, &sample()).unwrap_err();
    assert!(
        matches!(err.kind, ReportErrorKind::Refused { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&dir.display().to_string()) && msg.contains("thesis.tex"),
        "{msg}"
    );
    assert_eq!(snapshot(&dir), before);
    assert!(leftovers(tmp.path()).is_empty());
}

#[test]
fn failure_leaves_nothing_partial() {
    let tmp = tempfile::tempdir().unwrap();

    // The path is a file.
    let file = tmp.path().join("run");
    fs::write(&file, "not a directory").unwrap();
    let err = write_outputs(&file, &sample()).unwrap_err();
    assert!(
        err.to_string().contains(&file.display().to_string()),
        "{err}"
    );
    assert_eq!(fs::read_to_string(&file).unwrap(), "not a directory");

    // The parent is a file: the staging directory cannot be created.
    let below = file.join("sub");
    let err = write_outputs(&below, &sample()).unwrap_err();
    assert!(
        err.to_string().contains(&below.display().to_string()),
        "{err}"
    );
    assert!(
        matches!(
            err.kind,
            ReportErrorKind::Io { .. } | ReportErrorKind::Refused { .. }
        ),
        "{err:?}"
    );

    // Failing after some files were staged (a ragged time-series row): the earlier run stays.
    let dir = tmp.path().join("out");
    write_outputs(&dir, &sample()).unwrap();
    let before = snapshot(&dir);
    let mut bad = sample();
    bad.timeseries.rows[2].pop();
    let err = write_outputs(&dir, &bad).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&dir.display().to_string())
            && msg.contains("timeseries.csv")
            && msg.contains("row 2"),
        "{msg}"
    );
    assert_eq!(snapshot(&dir), before);

    // Same into a fresh path: nothing appears.
    let fresh = tmp.path().join("fresh");
    assert!(write_outputs(&fresh, &bad).is_err());
    assert!(!fresh.exists());

    assert!(
        leftovers(tmp.path()).is_empty(),
        "{:?}",
        leftovers(tmp.path())
    );
}

#[test]
fn empty_run_output() {
    let out = RunOutput {
        name: String::new(),
        summary: json!({}),
        events: vec![],
        transcript: vec![],
        timeseries: TimeSeries::default(),
        charts: vec![ChartSpec {
            guides: vec![],
            title: "Nothing".into(),
            y_label: "n".into(),
            series: vec!["absent".into()],
        }],
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    write_outputs(&dir, &out).unwrap();
    assert_eq!(read(&dir, "summary.json"), "{}\n");
    assert_eq!(read(&dir, "events.jsonl"), "");
    assert_eq!(read(&dir, "transcript.jsonl"), "");
    assert_eq!(read(&dir, "timeseries.csv"), "");
    let html = read(&dir, "report.html");
    assert_eq!(html.matches("<figure class=\"kchart\"").count(), 1);
    assert!(html.contains("\"name\":\"absent\",\"show\":true,\"missing\":true,\"data\":[]"));
    assert!(html.contains("No events."));
}

/// `sample()` with `n` events, some of them warnings.
fn with_events(n: usize) -> RunOutput {
    let mut out = sample();
    out.events = (0..n)
        .map(|i| {
            let type_ = if i % 7 == 3 { "Warning" } else { "Normal" };
            event(
                i as f64 / 4.0,
                type_,
                "Scheduled",
                &format!("p-{i}"),
                "ok \"q\"",
            )
        })
        .collect();
    out
}

#[test]
fn streamed_events_give_the_same_files() {
    let tmp = tempfile::tempdir().unwrap();
    for n in [0, 2, 40_000] {
        let out = with_events(n);
        let whole = tmp.path().join(format!("whole-{n}"));
        write_outputs(&whole, &out).unwrap();
        // Batches of several sizes, an empty one, and the rest left in the output.
        for sizes in [vec![], vec![1, 0, 7, 1999], vec![n]] {
            let dir = tmp.path().join(format!("streamed-{n}-{}", sizes.len()));
            let mut w = RunWriter::start(&dir).unwrap();
            let mut rest = out.clone();
            for s in &sizes {
                let s = (*s).min(rest.events.len());
                let spare = w.events(rest.events.drain(..s).collect()).unwrap();
                assert!(spare.is_empty());
            }
            w.finish(&mut rest).unwrap();
            assert!(
                rest.events.is_empty(),
                "the events left in the output are written"
            );
            assert_eq!(snapshot(&dir), snapshot(&whole), "{n} events, {sizes:?}");
        }
    }
    assert!(leftovers(tmp.path()).is_empty());
}

#[test]
fn streamed_failure_leaves_nothing_partial() {
    let tmp = tempfile::tempdir().unwrap();

    // The target cannot be replaced: refused at the start.
    let file = tmp.path().join("run");
    fs::write(&file, "not a directory").unwrap();
    let err = RunWriter::start(&file).err().unwrap();
    assert!(matches!(err.kind, ReportErrorKind::Refused { .. }), "{err}");

    // Failing at the end (a ragged time-series row): the earlier run stays.
    let dir = tmp.path().join("out");
    write_outputs(&dir, &sample()).unwrap();
    let before = snapshot(&dir);
    let mut bad = with_events(3000);
    bad.timeseries.rows[2].pop();
    let mut w = RunWriter::start(&dir).unwrap();
    w.events(bad.events.drain(..2500).collect()).unwrap();
    let err = w.finish(&mut bad).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&dir.display().to_string()) && msg.contains("timeseries.csv"),
        "{msg}"
    );
    assert_eq!(snapshot(&dir), before);

    // Dropped without finishing (the run was cut short): nothing appears.
    let fresh = tmp.path().join("fresh");
    let mut w = RunWriter::start(&fresh).unwrap();
    w.events(with_events(100).events).unwrap();
    drop(w);
    assert!(!fresh.exists());
    assert!(
        leftovers(tmp.path()).is_empty(),
        "{:?}",
        leftovers(tmp.path())
    );
}

/// The page tells the key decisions in words after the verdict, in time order: rescales,
/// node launches and removals (once per node, not again for its NodeClaim), OOM kills and
/// preemptions; other events are only in the event table. Bounded: the first 200.
#[test]
fn key_decisions_are_told_in_time_order() {
    let on = |mut e: EventRecord, kind: &str, namespace: &str| {
        e.involved_object.kind = kind.to_owned();
        e.involved_object.namespace = namespace.to_owned();
        e
    };
    let mut out = sample();
    out.events = vec![
        event(
            1.0,
            "Normal",
            "Scheduled",
            "web-1",
            "Successfully assigned default/web-1 to n1",
        ),
        on(
            event(
                15.0,
                "Normal",
                "SuccessfulRescale",
                "web",
                "New size: 4; reason: cpu resource utilization (percentage of request) above target",
            ),
            "HorizontalPodAutoscaler",
            "default",
        ),
        on(
            event(
                20.0,
                "Normal",
                "Launched",
                "general-abcde",
                "Status condition transitioned, Type: Launched",
            ),
            "NodeClaim",
            "",
        ),
        event(
            75.0,
            "Warning",
            "OOMKilling",
            "web-2",
            "Memory cgroup out of memory: Killed process <app>",
        ),
        event(
            80.0,
            "Normal",
            "Preempted",
            "batch-1",
            "Preempted by pod web-3 on node n1",
        ),
        on(
            event(
                3600.0,
                "Normal",
                "DisruptionTerminating",
                "n2",
                "Disrupting Node: Empty",
            ),
            "Node",
            "",
        ),
        on(
            event(
                3600.0,
                "Normal",
                "DisruptionTerminating",
                "general-fghij",
                "Disrupting NodeClaim: Empty",
            ),
            "NodeClaim",
            "",
        ),
    ];
    let tmp = tempfile::tempdir().unwrap();
    write_outputs(&tmp.path().join("r"), &out).unwrap();
    let html = read(&tmp.path().join("r"), "report.html");
    let at = |s: &str| html.find(s).unwrap_or_else(|| panic!("{s} missing"));
    assert!(
        at("</header>") < at("id=\"decisions\"") && at("id=\"decisions\"") < at("id=\"charts\"")
    );
    let section = &html[at("<section id=\"decisions\">")..];
    let section = &section[..section.find("</section>").unwrap()];
    assert!(section.contains("<p class=\"muted\">5 in the run: rescales, node launches and removals, OOM kills and preemptions. Every event"), "{section}");
    let rows: Vec<&str> = section
        .lines()
        .filter(|l| l.starts_with("<tr><td"))
        .collect();
    assert_eq!(
        rows,
        [
            "<tr><td class=\"time\">0:00:15</td><td>HPA rescale</td><td>HorizontalPodAutoscaler default/web</td><td>New size: 4; reason: cpu resource utilization (percentage of request) above target</td></tr>",
            "<tr><td class=\"time\">0:00:20</td><td>node launch</td><td>NodeClaim general-abcde</td><td>Status condition transitioned, Type: Launched</td></tr>",
            "<tr><td class=\"time\">0:01:15</td><td>OOM kill</td><td>Pod default/web-2</td><td>Memory cgroup out of memory: Killed process &lt;app&gt;</td></tr>",
            "<tr><td class=\"time\">0:01:20</td><td>preemption</td><td>Pod default/batch-1</td><td>Preempted by pod web-3 on node n1</td></tr>",
            "<tr><td class=\"time\">1:00:00</td><td>node removal</td><td>Node n2</td><td>Disrupting Node: Empty</td></tr>",
        ]
    );
    // Many: the first 200, and how many there were.
    out.events = (0..250)
        .map(|i| {
            on(
                event(
                    i as f64,
                    "Normal",
                    "SuccessfulRescale",
                    "web",
                    &format!("New size: {i}"),
                ),
                "HorizontalPodAutoscaler",
                "default",
            )
        })
        .collect();
    write_outputs(&tmp.path().join("many"), &out).unwrap();
    let html = read(&tmp.path().join("many"), "report.html");
    assert!(html.contains("250 in the run: rescales, node launches and removals, OOM kills and preemptions, the first 200 of them here."));
    assert_eq!(html.matches("<td>HPA rescale</td>").count(), 200);
    assert!(html.contains("<td>New size: 199</td>") && !html.contains("<td>New size: 200</td>"));
}
