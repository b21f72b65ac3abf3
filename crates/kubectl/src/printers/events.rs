//! Events (`printEvent`): LAST SEEN, OBJECT and SOURCE, with event series.

use serde_json::Value;

use super::cells::{int_at, name_of, s, str_at};
use super::table::TableDef;
use super::time::age_of;

/// `kubectl get events` (printEvent); wide columns interleaved.
pub(super) const EVENT: TableDef = TableDef {
    headers: &[
        "LAST SEEN",
        "TYPE",
        "REASON",
        "OBJECT",
        "SUBOBJECT",
        "SOURCE",
        "MESSAGE",
        "FIRST SEEN",
        "COUNT",
        "NAME",
    ],
    wide_extra: 3,
    row: event_row,
};

fn event_row(o: &Value, now: i64) -> Vec<String> {
    let first = match s(o, &["firstTimestamp"]).and_then(Value::as_str) {
        Some(t) if !t.is_empty() => age_of(Some(&Value::String(t.into())), now),
        _ => age_of(s(o, &["eventTime"]), now),
    };
    let mut last = match s(o, &["lastTimestamp"]).and_then(Value::as_str) {
        Some(t) if !t.is_empty() => age_of(Some(&Value::String(t.into())), now),
        _ => first.clone(),
    };
    let mut count = int_at(o, &["count"]);
    if let Some(series) = o.get("series").filter(|v| v.is_object()) {
        last = age_of(series.get("lastObservedTime"), now);
        count = int_at(series, &["count"]);
    } else if count == 0 {
        count = 1;
    }
    let kind = str_at(o, &["involvedObject", "kind"]).to_ascii_lowercase();
    let name = str_at(o, &["involvedObject", "name"]);
    let target = if name.is_empty() {
        kind
    } else {
        format!("{kind}/{name}")
    };
    let component = {
        let c = str_at(o, &["source", "component"]);
        if c.is_empty() {
            str_at(o, &["reportingController"])
        } else {
            c
        }
    };
    let host = {
        let h = str_at(o, &["source", "host"]);
        if h.is_empty() {
            str_at(o, &["reportingInstance"])
        } else {
            h
        }
    };
    let source = if host.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {host}")
    };
    // Narrow layout: LAST SEEN TYPE REASON OBJECT MESSAGE; wide inserts SUBOBJECT and SOURCE
    // after OBJECT and appends FIRST SEEN, COUNT, NAME. `event_columns` reorders.
    vec![
        last,
        str_at(o, &["type"]).to_string(),
        str_at(o, &["reason"]).to_string(),
        target,
        str_at(o, &["involvedObject", "fieldPath"]).to_string(),
        source,
        str_at(o, &["message"]).trim().to_string(),
        first,
        count.to_string(),
        name_of(o),
    ]
}

#[cfg(test)]
mod tests {
    use crate::kinds::Kind;
    use crate::printers::print_objects;
    use crate::printers::testing::*;
    use serde_json::json;

    #[test]
    fn events_table() {
        let ev = json!({
            "metadata": {"name": "web-1.17c", "namespace": "default"},
            "type": "Normal", "reason": "Scheduled",
            "involvedObject": {"kind": "Pod", "name": "web-1"},
            "message": "Successfully assigned default/web-1 to node-1",
            "source": {"component": "default-scheduler"},
            "firstTimestamp": "2024-05-01T11:59:50Z", "lastTimestamp": "2024-05-01T11:59:50Z", "count": 1
        });
        assert_eq!(
            print_objects(Kind::Event, &[ev], &opts()).stdout,
            "LAST SEEN   TYPE     REASON      OBJECT      MESSAGE\n10s         Normal   Scheduled   pod/web-1   Successfully assigned default/web-1 to node-1\n"
        );
    }
}
