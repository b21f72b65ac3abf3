//! `kubectl rollout status` as a step that lasts: it watches its workload and prints kubectl's
//! status line at the first reading and at every change of the object (kubectl prints on each
//! watch event: k8s.io/kubectl `pkg/cmd/rollout/rollout_status.go` over the status viewers of
//! `pkg/polymorphichelpers/rollout_status.go`), until the rollout is done, the object is
//! deleted, `--timeout` passes or the run ends. Steps run in order, as in a script: a step due
//! while another still runs starts when it finishes.

use kscale_kubectl::rollout_status::rollout_status;
use kscale_kubectl::{Kind, ObjectRef};
use kscale_model::SimTime;
use kscale_report::TranscriptEntry;
use serde_json::Value;

use super::{Event, Sim};

/// How often the twin reads a watched workload (*assumption*: 100 ms stands for a watch's
/// immediacy; the real kubectl prints within milliseconds of each write).
const WATCH_PERIOD_MS: u64 = 100;

/// A step still running, and the steps due while it runs.
#[derive(Debug, Default, Clone)]
pub struct StepRunner {
    running: Option<Watch>,
    waiting: std::collections::VecDeque<usize>,
}

/// A `rollout status` step watching its workload.
#[derive(Debug, Clone)]
struct Watch {
    command: String,
    started: SimTime,
    namespace: String,
    target: ObjectRef,
    deadline: Option<SimTime>,
    stdout: String,
    /// What of the object a write changes (generation, spec, status, annotations), as last read.
    seen: Value,
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

impl Sim {
    /// Runs step `i` now, or after the step still running.
    pub(crate) fn step_due(&mut self, i: usize) {
        if self.steps.running.is_some() {
            self.steps.waiting.push_back(i);
        } else {
            self.run_step(i);
        }
    }

    /// Starts `kubectl rollout status` (step `command`, namespace `ns`): prints the first
    /// reading and, unless it is final, keeps watching.
    pub(crate) fn start_rollout_status(
        &mut self,
        command: &str,
        ns: &str,
        target: &ObjectRef,
        watch: bool,
        timeout_ms: Option<u64>,
    ) -> Option<Result<String, (String, String)>> {
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
                self.steps.running = Some(Watch {
                    command: command.to_string(),
                    started: self.now,
                    namespace: ns.to_string(),
                    target: target.clone(),
                    deadline: timeout_ms.map(|ms| self.now.plus_millis(ms)),
                    stdout: line,
                    seen: watched(&obj),
                });
                self.queue
                    .push(self.now.plus_millis(WATCH_PERIOD_MS), Event::StepWatch);
                None
            }
        }
    }

    /// The running step reads its workload again.
    pub(crate) fn step_watch(&mut self) {
        let Some(w) = self.steps.running.as_ref() else {
            return;
        };
        let kind = kind_name(w.target.kind);
        let outcome = match self.get_one(kind, &w.namespace, &w.target.name) {
            None => Some((1, "error: object has been deleted".to_string())),
            Some(obj) => {
                let now = watched(&obj);
                let mut outcome = None;
                if now != w.seen {
                    match rollout_status(w.target.kind, &obj) {
                        Err(e) => outcome = Some((1, format!("error: {e}"))),
                        Ok((line, done)) => {
                            let w = self.steps.running.as_mut().expect("running");
                            w.stdout.push_str(&line);
                            w.seen = now;
                            if done {
                                outcome = Some((0, String::new()));
                            }
                        }
                    }
                }
                let w = self.steps.running.as_ref().expect("running");
                if outcome.is_none() && w.deadline.is_some_and(|d| self.now >= d) {
                    outcome = Some((1, "error: timed out waiting for the condition".into()));
                }
                outcome
            }
        };
        match outcome {
            Some((code, stderr)) => self.finish_running_step(code, stderr),
            None => self
                .queue
                .push(self.now.plus_millis(WATCH_PERIOD_MS), Event::StepWatch),
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
