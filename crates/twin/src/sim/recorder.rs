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
    /// pods): (creation time, creation → containers running in ms), in start order. 8 bytes
    /// a started pod while times stay under 2^32 ms (49 days; the workload's name once):
    /// about 0.5 MB a day of the 1,000-node benchmark.
    startups: BTreeMap<String, StartupLog>,
}

/// One workload's start-ups (see [`Recorder::startups_of`]): as two `u32` milliseconds each
/// while they fit, else (from the first that does not) as they are.
#[derive(Debug, Clone)]
enum StartupLog {
    Narrow(Vec<[u32; 2]>),
    Wide(Vec<(SimTime, u64)>),
}

impl StartupLog {
    fn push(&mut self, created: SimTime, latency_ms: u64) {
        match self {
            StartupLog::Narrow(v) => match (u32::try_from(created.0), u32::try_from(latency_ms)) {
                (Ok(c), Ok(l)) => v.push([c, l]),
                _ => {
                    let mut wide: Vec<(SimTime, u64)> = v
                        .iter()
                        .map(|&[c, l]| (SimTime(u64::from(c)), u64::from(l)))
                        .collect();
                    wide.push((created, latency_ms));
                    *self = StartupLog::Wide(wide);
                }
            },
            StartupLog::Wide(v) => v.push((created, latency_ms)),
        }
    }

    fn iter(&self) -> Box<dyn Iterator<Item = (SimTime, u64)> + '_> {
        match self {
            StartupLog::Narrow(v) => Box::new(
                v.iter()
                    .map(|&[c, l]| (SimTime(u64::from(c)), u64::from(l))),
            ),
            StartupLog::Wide(v) => Box::new(v.iter().copied()),
        }
    }
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
            Some(v) => v.push(created, latency_ms),
            None => {
                let mut log = StartupLog::Narrow(vec![]);
                log.push(created, latency_ms);
                self.startups.insert(workload.to_owned(), log);
            }
        }
    }

    /// The start-ups of `workload`'s pods: (creation time, latency in ms), in start order.
    pub fn startups_of(&self, workload: &str) -> impl Iterator<Item = (SimTime, u64)> + '_ {
        self.startups
            .get(workload)
            .into_iter()
            .flat_map(StartupLog::iter)
    }

    /// Every workload's start-ups (see [`Recorder::startups_of`]), workloads in name order.
    pub fn startups(
        &self,
    ) -> impl Iterator<Item = (&str, impl Iterator<Item = (SimTime, u64)> + '_)> {
        self.startups.iter().map(|(w, v)| (w.as_str(), v.iter()))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Start-ups are kept as two `u32` while they fit; one that does not widens the log
    /// without losing or reordering the earlier ones.
    #[test]
    fn startups_widen_past_u32_milliseconds_in_order() {
        let mut r = Recorder::default();
        let big = u64::from(u32::MAX) + 7;
        let starts = [
            (SimTime(5), 1_000),
            (SimTime(9), 250),
            (SimTime(big), 3),
            (SimTime(11), big),
            (SimTime(12), 4),
        ];
        for (i, &(created, latency)) in starts.iter().enumerate() {
            r.startup("ns/deployment/web", created, latency);
            let narrow = matches!(r.startups["ns/deployment/web"], StartupLog::Narrow(_));
            assert_eq!(narrow, i < 2, "after {} start-ups", i + 1);
        }
        r.startup("ns/deployment/api", SimTime(1), 2);
        assert_eq!(
            r.startups_of("ns/deployment/web").collect::<Vec<_>>(),
            starts
        );
        assert_eq!(r.startups_of("ns/deployment/none").count(), 0);
        let all: Vec<(&str, usize)> = r.startups().map(|(w, s)| (w, s.count())).collect();
        assert_eq!(all, [("ns/deployment/api", 1), ("ns/deployment/web", 5)]);
    }
}
