//! Executing kubectl steps against the twin.

use kscale_report::TranscriptEntry;

use super::Sim;

impl Sim {
    /// Runs scenario step `i` and records it in the transcript.
    pub fn run_step(&mut self, i: usize) {
        let step = self.scenario.steps[i].clone();
        let (code, stdout, stderr) = self.exec_kubectl(&step.run);
        self.transcript.push(TranscriptEntry {
            at: self.now.as_secs_f64(),
            command: step.run,
            exit_code: code,
            stdout,
            stderr,
        });
    }

    fn exec_kubectl(&mut self, _line: &str) -> (i32, String, String) {
        (1, String::new(), "error: not implemented".into())
    }
}
