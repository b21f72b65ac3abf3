//! The control plane's processes: started in their own process group (so a terminal's
//! Ctrl-C reaches kscale, which stops them in order), logged to files, found again by pid
//! and program path, and stopped with SIGTERM then SIGKILL.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::Error;

/// One started process, as recorded in the state file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Proc {
    /// The component (`etcd`, `kube-apiserver`, ...).
    pub name: String,
    /// Its process id.
    pub pid: i32,
    /// The program it runs.
    pub program: PathBuf,
    /// Its start time (`/proc/PID/stat` field 22, clock ticks since boot): a pid reused by
    /// another process has another start time, so it is never signalled.
    pub start_ticks: u64,
    /// Its log file (standard output and error).
    pub log: PathBuf,
}

impl Proc {
    /// Starts `program args` with output to `log`, in a process group of its own.
    pub fn spawn(name: &str, program: &Path, args: &[String], log: &Path) -> Result<Proc, Error> {
        let out = File::create(log).map_err(|e| Error::io(log, e))?;
        let err = out.try_clone().map_err(|e| Error::io(log, e))?;
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| Error::Start {
                component: name.to_string(),
                detail: format!("cannot run {}: {e}", program.display()),
                log_tail: String::new(),
            })?;
        // The child is reaped by whoever outlives us (init once `up` exits): waiting here
        // would tie its life to this process.
        let pid = child.id() as i32;
        std::mem::forget(child);
        let start_ticks = stat(pid).map(|s| s.start_ticks).unwrap_or(0);
        Ok(Proc {
            name: name.to_string(),
            pid,
            program: program.to_path_buf(),
            start_ticks,
            log: log.to_path_buf(),
        })
    }

    /// Whether the process is alive and is the one we started (same start time).
    pub fn alive(&self) -> bool {
        match stat(self.pid) {
            Some(st) if st.zombie => {
                reap(self.pid);
                false
            }
            Some(st) => st.start_ticks == self.start_ticks,
            None => false,
        }
    }

    /// The last `n` lines of the log.
    pub fn log_tail(&self, n: usize) -> String {
        tail(&self.log, n)
    }

    /// Stops the process and its process group (anything it started): SIGTERM, then SIGKILL
    /// after `grace`. Returns once no live process is left in the group.
    pub fn stop(&self, grace: Duration) {
        // A gone leader whose group still runs (its children) is stopped too; a pid reused
        // by someone else's process leads no group of ours and is left alone.
        let ours = self.alive() || (stat(self.pid).is_none() && group_alive(self.pid));
        if !ours {
            return;
        }
        // Its own process group (spawned with process_group(0)): the group id is its pid.
        let pgid = Pid::from_raw(self.pid);
        let _ = killpg(pgid, Signal::SIGTERM);
        let deadline = Instant::now() + grace;
        while (self.alive() || group_alive(self.pid)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if self.alive() || group_alive(self.pid) {
            let _ = killpg(pgid, Signal::SIGKILL);
            let deadline = Instant::now() + Duration::from_secs(10);
            while (self.alive() || group_alive(self.pid)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// Whether any live (not zombie) process is in process group `pgid`.
pub fn group_alive(pgid: i32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|e| {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            return false;
        };
        stat(pid).is_some_and(|st| !st.zombie && st.pgrp == pgid)
    })
}

/// What `/proc/PID/stat` says of a process.
struct Stat {
    zombie: bool,
    pgrp: i32,
    start_ticks: u64,
}

fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name (which may hold spaces): state is field 3,
    // starttime field 22.
    let rest = text.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        zombie: matches!(fields.first(), Some(&"Z" | &"X")),
        pgrp: fields.get(2)?.parse().ok()?,
        start_ticks: fields.get(19)?.parse().ok()?,
    })
}

/// Reaps `pid` if it is our exited child (no-op otherwise), so it leaves no zombie behind.
fn reap(pid: i32) {
    use nix::sys::wait::{WaitPidFlag, waitpid};
    let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
}

/// The last `n` lines of a file (reads at most its last 64 KiB).
pub fn tail(path: &Path, n: usize) -> String {
    let Ok(mut f) = File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_started_process_is_alive_until_stopped_with_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("parent.sh");
        // The child sleep is in the parent's process group: stopping the group ends both.
        std::fs::write(&script, "#!/bin/sh\necho started\nsleep 300 &\nwait\n").unwrap();
        let log = dir.path().join("parent.log");
        let p = Proc::spawn(
            "parent",
            Path::new("/bin/sh"),
            &[script.display().to_string()],
            &log,
        )
        .unwrap();
        assert!(p.alive());
        let deadline = Instant::now() + Duration::from_secs(5);
        while !tail(&log, 1).contains("started") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(p.log_tail(5), "started");
        p.stop(Duration::from_secs(5));
        assert!(!p.alive());
        assert!(!group_alive(p.pid), "the child sleep was left running");
    }

    #[test]
    fn a_reused_pid_is_not_ours() {
        let me = std::process::id() as i32;
        let mine = stat(me).unwrap();
        let other = Proc {
            name: "x".into(),
            pid: me,
            program: PathBuf::from("/bin/true"),
            start_ticks: mine.start_ticks + 1,
            log: PathBuf::from("/dev/null"),
        };
        assert!(!other.alive());
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("log");
        std::fs::write(&f, "a\nb\nc\nd\n").unwrap();
        assert_eq!(tail(&f, 2), "c\nd");
        assert_eq!(tail(&dir.path().join("missing"), 2), "");
    }
}
