//! Load from Prometheus: range queries (`/api/v1/query_range`), their `matrix` responses as
//! kscale trace CSVs, and `cpuPerRequest` fitted from CPU usage and request rate.
//!
//! Response format: Prometheus HTTP API, "Range queries"
//! (prometheus/prometheus `docs/querying/api.md`): `{"status": "success", "data":
//! {"resultType": "matrix", "result": [{"metric": {...}, "values": [[unix_seconds,
//! "value"], ...]}]}}`; errors are `{"status": "error", "errorType": ..., "error": ...}`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

/// One series of a range query.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Its labels.
    pub metric: BTreeMap<String, String>,
    /// (Unix milliseconds, value) in time order; NaN and infinite samples are left out.
    pub points: Vec<(i64, f64)>,
}

/// Parses a range query's response (`source` names it in errors).
pub fn parse_range(text: &str, source: &str) -> Result<Vec<Series>, String> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| format!("{source}: not a Prometheus API response (JSON: {e})"))?;
    match v.get("status").and_then(Value::as_str) {
        Some("success") => {}
        Some("error") => {
            return Err(format!(
                "{source}: Prometheus answered {}: {}",
                v.get("errorType")
                    .and_then(Value::as_str)
                    .unwrap_or("error"),
                v.get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("(no message)")
            ));
        }
        _ => {
            return Err(format!(
                "{source}: no \"status\" field: not a Prometheus API response"
            ));
        }
    }
    let data = v
        .get("data")
        .ok_or_else(|| format!("{source}: no \"data\" field"))?;
    let kind = data.get("resultType").and_then(Value::as_str).unwrap_or("");
    if kind != "matrix" {
        return Err(format!(
            "{source}: resultType is {kind:?}, a range query's is \"matrix\" (was it saved from /api/v1/query_range?)"
        ));
    }
    let result = data
        .get("result")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{source}: data.result is not a list"))?;
    let mut out = Vec::with_capacity(result.len());
    for (i, s) in result.iter().enumerate() {
        let metric = s
            .get("metric")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let values = s
            .get("values")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("{source}: data.result[{i}].values is not a list"))?;
        let mut points = Vec::with_capacity(values.len());
        for (j, p) in values.iter().enumerate() {
            let bad = || format!("{source}: data.result[{i}].values[{j}] is not [time, \"value\"]");
            let pair = p.as_array().filter(|a| a.len() == 2).ok_or_else(bad)?;
            let t = pair[0].as_f64().ok_or_else(bad)?;
            let x: f64 = pair[1]
                .as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(bad)?;
            if x.is_finite() {
                points.push(((t * 1000.0).round() as i64, x));
            }
        }
        out.push(Series { metric, points });
    }
    Ok(out)
}

/// The sum of all series at each timestamp, in time order.
pub fn total(series: &[Series]) -> Vec<(i64, f64)> {
    let mut sum: BTreeMap<i64, f64> = BTreeMap::new();
    for s in series {
        for &(t, x) in &s.points {
            *sum.entry(t).or_default() += x;
        }
    }
    sum.into_iter().collect()
}

/// A trace CSV (`time,value`, RFC 3339 UTC times) of points.
pub fn to_csv(points: &[(i64, f64)]) -> String {
    let mut out = String::from("time,value\n");
    for &(t, x) in points {
        let time = jiff::Timestamp::from_millisecond(t)
            .map(|ts| ts.to_string())
            .unwrap_or_else(|_| format!("{}", t / 1000));
        out.push_str(&format!("{time},{x}\n"));
    }
    out
}

/// CPU core-seconds per request that best explain CPU usage from request rate (least squares
/// through the origin over the timestamps both series have: Σ c·r / Σ r²); `None` without
/// traffic.
pub fn fit_cpu_per_request(cpu: &[(i64, f64)], rps: &[(i64, f64)]) -> Option<f64> {
    let rps: BTreeMap<i64, f64> = rps.iter().copied().collect();
    let (mut cr, mut rr) = (0.0, 0.0);
    for (t, c) in cpu {
        if let Some(r) = rps.get(t) {
            cr += c * r;
            rr += r * r;
        }
    }
    (rr > 0.0)
        .then(|| cr / rr)
        .filter(|k| k.is_finite() && *k > 0.0)
}

/// Runs a range query against the Prometheus server at `base` (e.g. `http://127.0.0.1:9090`)
/// over `[start, end]` (Unix seconds) at `step_s`.
pub fn query_range(
    base: &str,
    query: &str,
    start: i64,
    end: i64,
    step_s: u64,
) -> Result<Vec<Series>, String> {
    let url = format!("{}/api/v1/query_range", base.trim_end_matches('/'));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent
        .get(&url)
        .query("query", query)
        .query("start", start.to_string())
        .query("end", end.to_string())
        .query("step", step_s.to_string())
        .call()
        .map_err(|e| format!("Prometheus {base}: {e}"))?;
    let status = resp.status();
    let text = resp
        .body_mut()
        .with_config()
        .limit(256 << 20)
        .read_to_string()
        .map_err(|e| format!("Prometheus {base}: reading the answer: {e}"))?;
    let source = format!("Prometheus {base} (query {query:?})");
    match parse_range(&text, &source) {
        Ok(s) => Ok(s),
        Err(e) if status.is_success() => Err(e),
        Err(e) => Err(format!("{e} (HTTP {})", status.as_u16())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The range-query example of Prometheus's HTTP API documentation
    /// (prometheus/prometheus `docs/querying/api.md`, "Range queries").
    const DOC_EXAMPLE: &str = r#"{
   "status" : "success",
   "data" : {
      "resultType" : "matrix",
      "result" : [
         {
            "metric" : {
               "__name__" : "up",
               "job" : "prometheus",
               "instance" : "localhost:9090"
            },
            "values" : [
               [ 1435781430.781, "1" ],
               [ 1435781445.781, "1" ],
               [ 1435781460.781, "1" ]
            ]
         },
         {
            "metric" : {
               "__name__" : "up",
               "job" : "node",
               "instance" : "localhost:9091"
            },
            "values" : [
               [ 1435781430.781, "0" ],
               [ 1435781445.781, "0" ],
               [ 1435781460.781, "1" ]
            ]
         }
      ]
   }
}"#;

    #[test]
    fn the_documented_response_sums_per_timestamp() {
        let s = parse_range(DOC_EXAMPLE, "doc").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].metric["job"], "prometheus");
        let t = total(&s);
        assert_eq!(
            t,
            [
                (1_435_781_430_781, 1.0),
                (1_435_781_445_781, 1.0),
                (1_435_781_460_781, 2.0)
            ]
        );
        let csv = to_csv(&t);
        assert!(
            csv.starts_with("time,value\n2015-07-01T20:10:30.781Z,1\n"),
            "{csv}"
        );
    }

    #[test]
    fn errors_name_the_source_and_what_is_wrong() {
        let e = parse_range(
            r#"{"status":"error","errorType":"bad_data","error":"parse error at char 4"}"#,
            "f.json",
        )
        .unwrap_err();
        assert!(
            e.contains("f.json") && e.contains("bad_data") && e.contains("char 4"),
            "{e}"
        );
        let e = parse_range(
            r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
            "f",
        )
        .unwrap_err();
        assert!(e.contains("\"vector\""), "{e}");
        let e = parse_range("nope", "f").unwrap_err();
        assert!(e.contains("JSON"), "{e}");
        let e = parse_range(
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,2]]}]}}"#,
            "f",
        )
        .unwrap_err();
        assert!(e.contains("values[0]"), "{e}");
    }

    #[test]
    fn nan_samples_are_dropped_and_the_fit_is_least_squares() {
        let s = parse_range(
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"NaN"],[2,"3"]]}]}}"#,
            "f",
        )
        .unwrap();
        assert_eq!(s[0].points, [(2000, 3.0)]);
        // CPU = 0.02 × rate exactly.
        let rps = [(0, 10.0), (60_000, 50.0), (120_000, 0.0)];
        let cpu = [(0, 0.2), (60_000, 1.0), (120_000, 0.0)];
        let k = fit_cpu_per_request(&cpu, &rps).unwrap();
        assert!((k - 0.02).abs() < 1e-12, "{k}");
        assert_eq!(fit_cpu_per_request(&cpu, &[(0, 0.0)]), None);
    }
}
