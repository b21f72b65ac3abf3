//! Handing the run's events to the caller while the run goes on.
//!
//! A caller that writes `events.jsonl` itself (the CLI) can take the recorded events out of the
//! simulation in batches ([`Sim::run_draining`]), so they are written on another thread during
//! the run and not all kept in memory. What the run's summary needs of them (how many, and of
//! which reason) is kept in [`DrainedEvents`]. Events are only handed out when no kubectl step
//! can read them ([`Sim::events_drainable`]): `kubectl get events` and `kubectl describe` show
//! the events recorded so far.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use kscale_kubectl::{Command, DeleteTarget, Kind};
use kscale_report::EventRecord;

use super::Sim;
use kscale_kubectl::parse_command_line as parse_line;

/// What the summary keeps of the events already handed out by [`Sim::drain_events`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DrainedEvents {
    /// How many.
    pub total: usize,
    /// How many of each reason.
    pub by_reason: BTreeMap<String, u64>,
}

/// True if kubectl step `line` may read the recorded events: `get` and `describe` (whose
/// output shows events), deleting events by selector or `--all`, and a line only resolved at
/// run time (a custom resource type).
pub fn step_reads_events(line: &str) -> bool {
    match parse_line(line) {
        Ok(inv) => match &inv.command {
            Command::Get { .. } | Command::Describe { .. } => true,
            Command::Delete {
                target: DeleteTarget::Selector { kinds, .. } | DeleteTarget::All { kinds },
                ..
            } => kinds.contains(&Kind::Event),
            _ => false,
        },
        Err(_) => true,
    }
}

impl Sim {
    /// True if no kubectl step of the scenario can read the recorded events (see
    /// [`step_reads_events`]), so they may be handed out during the run.
    pub fn events_drainable(&self) -> bool {
        !self
            .scenario
            .steps
            .iter()
            .any(|s| step_reads_events(&s.run))
    }

    /// Moves the events recorded so far out of the simulation, in order; the summary still
    /// counts them. Later events follow the returned ones, recorded into `spare` (emptied
    /// first: a caller may hand back an earlier batch's allocation). [`Sim::output`] and
    /// [`Sim::into_output`] then hold only the events recorded since.
    pub fn drain_events(&mut self, spare: Vec<EventRecord>) -> Vec<EventRecord> {
        self.recorder.drain_events(spare)
    }

    /// [`Sim::run`], handing the events to `sink` in batches of at least `batch` (at least
    /// one) events as they are recorded, when [`Sim::events_drainable`] (otherwise all of them
    /// stay in the recorder). The events still recorded at the end stay in the recorder.
    /// `sink` returns a spare buffer for the next events (see [`Sim::drain_events`]), or
    /// breaks: the run stops there (unfinished) and `Break` is returned.
    pub fn run_draining(
        &mut self,
        batch: usize,
        sink: &mut dyn FnMut(Vec<EventRecord>) -> ControlFlow<(), Vec<EventRecord>>,
    ) -> ControlFlow<()> {
        let batch = if self.events_drainable() {
            batch.max(1)
        } else {
            usize::MAX
        };
        while let Some(t) = self.queue.peek_time() {
            if t > self.end {
                break;
            }
            let (t, ev) = self.queue.pop().expect("peeked");
            self.now = t;
            self.handle(ev);
            if self.recorder.events().len() >= batch {
                let batch = self.drain_events(Vec::new());
                let spare = sink(batch)?;
                // Nothing was recorded meanwhile: the spare buffer takes the next events.
                self.recorder.reuse_event_buffer(spare);
            }
        }
        self.finish_run();
        ControlFlow::Continue(())
    }
}
