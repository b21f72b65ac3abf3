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

/// Time-series rows handed to a [`RunSink`] at once (at 1,000 nodes a row is ~40 KB).
pub const SAMPLE_BATCH: usize = 64;

/// Where [`Sim::run_streaming`] hands the run's outputs while it goes on.
pub trait RunSink {
    /// Takes a batch of events (see [`Sim::run_draining`]): returns a spare buffer for the
    /// next ones, or breaks (the run stops there).
    fn events(&mut self, batch: Vec<EventRecord>) -> ControlFlow<(), Vec<EventRecord>>;

    /// True if [`RunSink::samples`] takes the time-series rows during the run (default: they
    /// stay in the simulation).
    fn takes_samples(&self) -> bool {
        false
    }

    /// Takes time-series rows (see [`Sim::drain_samples`]), or breaks.
    fn samples(&mut self, rows: Vec<Vec<f64>>) -> ControlFlow<()> {
        let _ = rows;
        ControlFlow::Continue(())
    }
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
        struct Events<'a>(&'a mut dyn FnMut(Vec<EventRecord>) -> ControlFlow<(), Vec<EventRecord>>);
        impl RunSink for Events<'_> {
            fn events(&mut self, batch: Vec<EventRecord>) -> ControlFlow<(), Vec<EventRecord>> {
                (self.0)(batch)
            }
        }
        self.run_streaming(batch, &mut Events(sink))
    }

    /// [`Sim::run_draining`] into a [`RunSink`], which also takes the time-series rows in
    /// batches of [`SAMPLE_BATCH`] when it [`RunSink::takes_samples`] (the rows still held at
    /// the end stay in the simulation: [`Sim::drain_samples`] hands them out).
    pub fn run_streaming(&mut self, batch: usize, sink: &mut dyn RunSink) -> ControlFlow<()> {
        let samples = sink.takes_samples();
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
                let spare = sink.events(batch)?;
                // Nothing was recorded meanwhile: the spare buffer takes the next events.
                self.recorder.reuse_event_buffer(spare);
            }
            if samples && self.samples_held() >= SAMPLE_BATCH {
                sink.samples(self.drain_samples())?;
            }
        }
        self.finish_run();
        ControlFlow::Continue(())
    }
}
