//! The order kubectl steps run in, and the steps that last. Steps run in order, as in a
//! script: a step due while another still runs starts when it finishes. Two kubectl commands
//! last:
//! - `rollout status` watches its workload and prints kubectl's status line at the first
//!   reading and at every change of the object (kubectl prints on each watch event:
//!   k8s.io/kubectl `pkg/cmd/rollout/rollout_status.go` over the status viewers of
//!   `pkg/polymorphichelpers/rollout_status.go`) until the rollout is done;
//! - `wait --for=condition=...|jsonpath=...|delete|create` waits for each object in turn and
//!   prints `KIND/NAME condition met` for each (`pkg/cmd/wait`: `conditionFuncsFor`,
//!   `ConditionalWait.checkCondition` with its observedGeneration check,
//!   `JSONPathWait.checkCondition`, `IsDeleted`).
//!
//! Either ends at its `--timeout` (`timed out waiting for the condition`), when its object is
//! deleted, or at the run's end (cut off, as `--cluster` stops kubectl).

use kscale_kubectl::rollout_status::rollout_status;
use kscale_kubectl::{Invocation, Kind, ObjectRef, Target, WaitFor};
use kscale_model::SimTime;
use kscale_report::TranscriptEntry;
use serde_json::Value;

use super::kubectl::StepResult;
use super::{Event, Sim};

/// How often the twin reads a watched object (*assumption*: 100 ms stands for a watch's
/// immediacy; the real kubectl reacts within milliseconds of each write).
const WATCH_PERIOD_MS: u64 = 100;

/// A step still running, and the steps due while it runs.
#[derive(Debug, Default, Clone)]
pub struct StepRunner {
    running: Option<Watch>,
    waiting: std::collections::VecDeque<usize>,
}

/// A lasting step.
#[derive(Debug, Clone)]
struct Watch {
    command: String,
    started: SimTime,
    deadline: Option<SimTime>,
    stdout: String,
    until: Until,
}

/// What a lasting step waits for.
#[derive(Debug, Clone)]
enum Until {
    /// `rollout status`: what of the object a write changes, as last read.
    Rollout {
        namespace: String,
        target: ObjectRef,
        seen: Value,
    },
    /// `wait`: the objects in turn (kind, namespace, name, uid at the start), the next one.
    Wait {
        objects: Vec<(Kind, String, String, String)>,
        next: usize,
        wait_for: WaitFor,
        /// `--for=jsonpath`'s template, parsed once (not at every check).
        jsonpath: Option<Result<kscale_kubectl::JsonPath, String>>,
    },
}

/// The parts of a workload whose change is a watch event. The twin renders a condition's
/// times as of the reading (it keeps no status between reads), so they are left out.
fn watched(o: &Value) -> Value {
    let mut status = o.get("status").cloned().unwrap_or(Value::Null);
    if let Some(conditions) = status.get_mut("conditions").and_then(Value::as_array_mut) {
        for c in conditions.iter_mut().filter_map(Value::as_object_mut) {
            c.retain(|k, _| !k.ends_with("Time"));
        }
    }
    serde_json::json!([
        o.pointer("/metadata/generation"),
        o.pointer("/metadata/annotations"),
        o.get("spec"),
        status,
    ])
}

fn kind_name(k: Kind) -> &'static str {
    k.info().name
}

fn text<'a>(o: &'a Value, p: &str) -> &'a str {
    o.pointer(p).and_then(Value::as_str).unwrap_or("")
}

/// `ConditionalWait.checkCondition`: the first condition of the type (ignoring case) decides,
/// unless the object's generation is newer than the one it was observed at.
fn condition_met(o: &Value, name: &str, value: &str) -> bool {
    let conditions = o
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for c in conditions {
        if !text(c, "/type").eq_ignore_ascii_case(name) {
            continue;
        }
        let Some(status) = c.get("status").and_then(Value::as_str) else {
            continue;
        };
        if let Some(generation) = o.pointer("/metadata/generation").and_then(Value::as_i64) {
            let observed = c
                .get("observedGeneration")
                .or_else(|| o.pointer("/status/observedGeneration"))
                .and_then(Value::as_i64);
            if observed.is_some_and(|g| g < generation) {
                return false;
            }
        }
        return status.eq_ignore_ascii_case(value);
    }
    false
}

impl Sim {
    /// Runs step `i` now, or after the step still running.
    pub(crate) fn step_due(&mut self, i: usize) {
        if self.steps.running.is_some() {
            self.steps.waiting.push_back(i);
        } else {
            self.run_step(i);
        }
    }

    /// Keeps `watch` running: read again in [`WATCH_PERIOD_MS`].
    fn keep_running(&mut self, watch: Watch) {
        self.steps.running = Some(watch);
        self.queue
            .push(self.now.plus_millis(WATCH_PERIOD_MS), Event::StepWatch);
    }

    /// Starts `kubectl rollout status` (step `command`, namespace `ns`): the first reading,
    /// and `None` when the step goes on watching.
    pub(crate) fn start_rollout_status(
        &mut self,
        command: &str,
        ns: &str,
        target: &ObjectRef,
        watch: bool,
        timeout_ms: Option<u64>,
    ) -> Option<StepResult> {
        let kind = kind_name(target.kind);
        let ns = if target.kind.info().namespaced {
            ns
        } else {
            ""
        };
        let Some(obj) = self.get_one(kind, ns, &target.name) else {
            return Some(Err((
                String::new(),
                format!(
                    "Error from server (NotFound): {} \"{}\" not found",
                    target.kind.info().qualified_plural(),
                    target.name
                ),
            )));
        };
        match rollout_status(target.kind, &obj) {
            Err(e) => Some(Err((String::new(), format!("error: {e}")))),
            Ok((line, done)) if done || !watch => Some(Ok(line)),
            Ok((line, _)) => {
                self.keep_running(Watch {
                    command: command.to_string(),
                    started: self.now,
                    deadline: timeout_ms.map(|ms| self.now.plus_millis(ms)),
                    stdout: line,
                    until: Until::Rollout {
                        namespace: ns.to_string(),
                        target: target.clone(),
                        seen: watched(&obj),
                    },
                });
                None
            }
        }
    }

    /// Starts `kubectl wait` (step `command`): the objects are resolved now (by name, or by
    /// kind with the label and field selectors); `None` when the step goes on waiting.
    pub(crate) fn start_wait(
        &mut self,
        command: &str,
        inv: &Invocation,
        targets: &[Target],
        wait_for: &WaitFor,
        timeout_ms: u64,
    ) -> Option<StepResult> {
        let ns = inv.global.namespace.as_deref().unwrap_or("default");
        let delete = *wait_for == WaitFor::Delete;
        let mut objects = vec![];
        for t in targets {
            let tns = if t.kind.info().namespaced { ns } else { "" };
            match &t.name {
                Some(name) => match self.get_one(kind_name(t.kind), tns, name) {
                    Some(o) => objects.push((
                        t.kind,
                        text(&o, "/metadata/namespace").to_string(),
                        name.clone(),
                        text(&o, "/metadata/uid").to_string(),
                    )),
                    // Gone already: nothing to wait for.
                    None if delete => {}
                    // `--for=create` waits for it to appear.
                    None if *wait_for == WaitFor::Create => {
                        objects.push((t.kind, tns.to_string(), name.clone(), String::new()))
                    }
                    None => {
                        return Some(Err((
                            String::new(),
                            format!(
                                "Error from server (NotFound): {} \"{name}\" not found",
                                t.kind.info().qualified_plural()
                            ),
                        )));
                    }
                },
                None => match self.select(t.kind, inv) {
                    Ok(list) => objects.extend(list.iter().map(|o| {
                        (
                            t.kind,
                            text(o, "/metadata/namespace").to_string(),
                            text(o, "/metadata/name").to_string(),
                            text(o, "/metadata/uid").to_string(),
                        )
                    })),
                    Err(e) => return Some(Err(e)),
                },
            }
        }
        if objects.is_empty() {
            return Some(if delete {
                Ok(String::new())
            } else {
                Err((String::new(), "error: no matching resources found".into()))
            });
        }
        let mut w = Watch {
            command: command.to_string(),
            started: self.now,
            // Zero checks once.
            deadline: Some(self.now.plus_millis(timeout_ms)),
            stdout: String::new(),
            until: Until::Wait {
                objects,
                next: 0,
                wait_for: wait_for.clone(),
                jsonpath: match wait_for {
                    WaitFor::JsonPath { template, .. } => {
                        Some(kscale_kubectl::JsonPath::parse(template).map_err(|e| e.message))
                    }
                    _ => None,
                },
            },
        };
        match self.wait_progress(&mut w) {
            Some((0, _)) => Some(Ok(w.stdout)),
            Some((_, err)) => Some(Err((w.stdout, err))),
            None if timeout_ms == 0 => {
                let Until::Wait { objects, next, .. } = &w.until else {
                    unreachable!("a wait");
                };
                let (kind, _, name, _) = &objects[*next];
                Some(Err((
                    w.stdout,
                    format!("error: condition not met for {}/{name}", kind.info().plural),
                )))
            }
            None => {
                self.keep_running(w);
                None
            }
        }
    }

    /// A `wait` step's objects checked in turn from the next one: `Some((0, _))` when every
    /// one is done, `None` while one is not.
    fn wait_progress(&self, w: &mut Watch) -> Option<(i32, String)> {
        let Until::Wait {
            objects,
            next,
            wait_for,
            jsonpath,
        } = &mut w.until
        else {
            return None;
        };
        while let Some((kind, ns, name, uid)) = objects.get(*next) {
            let obj = self.get_one(kind_name(*kind), ns, name);
            let met = match wait_for {
                WaitFor::Delete => obj.as_ref().is_none_or(|o| text(o, "/metadata/uid") != uid),
                WaitFor::Create => obj.is_some(),
                WaitFor::Condition { name: c, value } => {
                    obj.as_ref().is_some_and(|o| condition_met(o, c, value))
                }
                WaitFor::JsonPath { value, .. } => match (&obj, &*jsonpath) {
                    (None, _) => false,
                    (Some(o), Some(Ok(j))) => match j.wait_condition(o, value.as_deref()) {
                        Ok(met) => met,
                        Err(e) => return Some((1, format!("error: {}", e.message))),
                    },
                    (Some(_), Some(Err(m))) => return Some((1, format!("error: {m}"))),
                    (Some(_), None) => unreachable!("a jsonpath wait has its template"),
                },
            };
            if !met {
                if obj.is_none()
                    && matches!(
                        wait_for,
                        WaitFor::Condition { .. } | WaitFor::JsonPath { .. }
                    )
                {
                    return Some((
                        1,
                        format!(
                            "Error from server (NotFound): {} \"{name}\" not found",
                            kind.info().qualified_plural()
                        ),
                    ));
                }
                return None;
            }
            w.stdout.push_str(&format!(
                "{}/{name} condition met\n",
                kind.info().qualified_singular()
            ));
            *next += 1;
        }
        Some((0, String::new()))
    }

    /// The running step reads its objects again.
    pub(crate) fn step_watch(&mut self) {
        let Some(mut w) = self.steps.running.take() else {
            return;
        };
        let outcome = match &mut w.until {
            Until::Wait { .. } => self.wait_progress(&mut w),
            Until::Rollout {
                namespace,
                target,
                seen,
            } => match self.get_one(kind_name(target.kind), namespace, &target.name) {
                None => Some((1, "error: object has been deleted".to_string())),
                Some(obj) => {
                    let now = watched(&obj);
                    if now == *seen {
                        None
                    } else {
                        *seen = now;
                        match rollout_status(target.kind, &obj) {
                            Err(e) => Some((1, format!("error: {e}"))),
                            Ok((line, done)) => {
                                w.stdout.push_str(&line);
                                done.then(|| (0, String::new()))
                            }
                        }
                    }
                }
            },
        };
        let outcome = outcome.or_else(|| {
            w.deadline.filter(|d| self.now >= *d).map(|_| {
                let on = match &w.until {
                    Until::Wait { objects, next, .. } => {
                        let (kind, _, name, _) = &objects[*next];
                        format!(" on {}/{name}", kind.info().plural)
                    }
                    Until::Rollout { .. } => String::new(),
                };
                (1, format!("error: timed out waiting for the condition{on}"))
            })
        });
        match outcome {
            Some((code, stderr)) => {
                self.steps.running = Some(w);
                self.finish_running_step(code, stderr);
            }
            None => self.keep_running(w),
        }
    }

    /// The running step ends (exit `code`, `stderr`); the steps that waited for it run now.
    fn finish_running_step(&mut self, code: i32, stderr: String) {
        let Some(w) = self.steps.running.take() else {
            return;
        };
        let nl = |s: String| {
            if s.is_empty() || s.ends_with('\n') {
                s
            } else {
                s + "\n"
            }
        };
        self.recorder.record_step(TranscriptEntry {
            at: w.started.as_secs_f64(),
            command: w.command,
            exit_code: code,
            stdout: w.stdout,
            stderr: nl(stderr),
        });
        while self.steps.running.is_none()
            && let Some(i) = self.steps.waiting.pop_front()
        {
            self.run_step(i);
        }
    }

    /// At the run's end: a step still running is cut off (as `--cluster` stops kubectl); the
    /// steps that waited for it run at the end.
    pub(crate) fn end_steps(&mut self) {
        // A step that waited may start another watch: each is cut off in turn.
        while self.steps.running.is_some() {
            self.finish_running_step(
                1,
                "error: the run ended before the step finished".to_string(),
            );
        }
    }
}
