//! What a run records for its outputs, apart from the time series: the Kubernetes events the
//! components emit (`events.jsonl`, and what `kubectl get events` and `kubectl describe`
//! show), the kubectl steps' transcript (`transcript.jsonl`), the summary's counters, the
//! pods' time from first unschedulable to running and every pod's start-up latency.

use std::collections::BTreeMap;

use kscale_model::SimTime;
use kscale_report::{EventRecord, TranscriptEntry};

use super::event_stream::DrainedEvents;
use super::output::count_reasons;

/// The run's record: events (as client-go's event recorder, `tools/record/event.go`, writes
/// them, kept in emission order, without upstream's aggregation), step transcript, counters.
/// The summary and the run's outputs are built from it; kubectl steps read the events.
#[derive(Debug, Default)]
pub struct Recorder {
    /// Emitted events (those not yet handed out by [`Recorder::drain_events`]).
    events: Vec<EventRecord>,
    /// What the summary keeps of the events handed out.
    drained: DrainedEvents,
    /// Step transcript.
    transcript: Vec<TranscriptEntry>,
    /// Text the running kubectl step prints on stderr if it succeeds (e.g. "No resources
    /// found").
    pending_stderr: String,
    /// Counters for the summary.
    counters: BTreeMap<&'static str, u64>,
    /// Time from first unschedulable to running, ms, per pod that got there.
    unschedulable_to_running: Vec<u64>,
    /// Every pod start, per workload (`namespace/kind/name`; `namespace/pod/name` for bare
    /// pods): (creation time, creation → containers running in ms), in start order. 16 bytes
    /// a started pod (the workload's name once): about 1 MB a day of the 1,000-node benchmark.
    startups: BTreeMap<String, Vec<(SimTime, u64)>>,
}

impl Recorder {
    /// Records an event.
    pub fn record_event(&mut self, event: EventRecord) {
        self.events.push(event);
    }

    /// The events recorded and not handed out yet, in order.
    pub fn events(&self) -> &[EventRecord] {
        &self.events
    }

    /// Moves the events recorded so far out, in order, counting them for the summary; later
    /// events are recorded into `spare` (emptied first).
    pub fn drain_events(&mut self, mut spare: Vec<EventRecord>) -> Vec<EventRecord> {
        spare.clear();
        let events = std::mem::replace(&mut self.events, spare);
        self.drained.total += events.len();
        for (reason, n) in count_reasons(&events) {
            *self.drained.by_reason.entry(reason.to_owned()).or_default() += n;
        }
        events
    }

    /// Later events are recorded into `buffer` (emptied first), which no event was recorded
    /// into meanwhile.
    pub fn reuse_event_buffer(&mut self, buffer: Vec<EventRecord>) {
        self.events = buffer;
        self.events.clear();
    }

    /// Every event of the run so far, handed out or not, counted by reason.
    pub fn events_by_reason(&self) -> BTreeMap<&str, u64> {
        let mut reasons = count_reasons(&self.events);
        for (reason, n) in &self.drained.by_reason {
            *reasons.entry(reason.as_str()).or_default() += n;
        }
        reasons
    }

    /// How many events the run recorded so far, handed out or not.
    pub fn events_total(&self) -> usize {
        self.drained.total + self.events.len()
    }

    /// Records a kubectl step's outcome.
    pub fn record_step(&mut self, entry: TranscriptEntry) {
        self.transcript.push(entry);
    }

    /// The steps run so far, in order.
    pub fn transcript(&self) -> &[TranscriptEntry] {
        &self.transcript
    }

    /// The running step prints `text` on stderr if it succeeds (instead of what was set).
    pub fn set_step_stderr(&mut self, text: String) {
        self.pending_stderr = text;
    }

    /// The running step prints one more line on stderr if it succeeds.
    pub fn add_step_stderr_line(&mut self, line: &str) {
        if !self.pending_stderr.is_empty() {
            self.pending_stderr.push('\n');
        }
        self.pending_stderr.push_str(line);
    }

    /// What the step that just succeeded prints on stderr (then nothing is pending).
    pub fn take_step_stderr(&mut self) -> String {
        std::mem::take(&mut self.pending_stderr)
    }

    /// Adds `n` to a summary counter.
    pub fn count(&mut self, name: &'static str, n: u64) {
        *self.counters.entry(name).or_insert(0) += n;
    }

    /// A summary counter's value (0 if never counted).
    pub fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }

    /// Every summary counter counted, by name.
    pub fn counters(&self) -> &BTreeMap<&'static str, u64> {
        &self.counters
    }

    /// A pod runs `ms` after it was first found unschedulable.
    pub fn unschedulable_to_running(&mut self, ms: u64) {
        self.unschedulable_to_running.push(ms);
    }

    /// A pod of `workload` created at `created` ran `latency_ms` later.
    pub fn startup(&mut self, workload: &str, created: SimTime, latency_ms: u64) {
        match self.startups.get_mut(workload) {
            Some(v) => v.push((created, latency_ms)),
            None => {
                self.startups
                    .insert(workload.to_owned(), vec![(created, latency_ms)]);
            }
        }
    }

    /// The start-ups of `workload`'s pods: (creation time, latency in ms), in start order.
    pub fn startups_of(&self, workload: &str) -> &[(SimTime, u64)] {
        self.startups.get(workload).map_or(&[], Vec::as_slice)
    }

    /// Every workload's start-ups (see [`Recorder::startups_of`]), workloads in name order.
    pub fn startups(&self) -> impl Iterator<Item = (&str, &[(SimTime, u64)])> {
        self.startups
            .iter()
            .map(|(w, v)| (w.as_str(), v.as_slice()))
    }

    /// Time from first unschedulable to running (ms) of each pod that got there, in order.
    pub fn unschedulable_to_running_ms(&self) -> &[u64] {
        &self.unschedulable_to_running
    }

    /// Moves the events and the transcript out (the run is over).
    pub fn take_events_and_transcript(&mut self) -> (Vec<EventRecord>, Vec<TranscriptEntry>) {
        (
            std::mem::take(&mut self.events),
            std::mem::take(&mut self.transcript),
        )
    }
}
