//! Helpers shared by the CLI tests: the binary, the repository's root, a command's output,
//! and for the tests that start real processes (`control_plane.rs`, `cluster_run.rs`) the real
//! control plane's binaries and checks that nothing is left running.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `kscale` binary under test.
pub fn kscale() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kscale"))
}

/// The repository's root (examples and scenarios are read from there).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Standard output then standard error, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The real binaries, or `None` with a message saying the test is skipped.
pub fn real_bin(test: &str) -> Option<PathBuf> {
    match std::env::var_os("KSCALE_CONTROLPLANE_BIN") {
        Some(d) => Some(PathBuf::from(d)),
        None => {
            eprintln!(
                "skipped {test}: set KSCALE_CONTROLPLANE_BIN to the folder `kscale control-plane build` prints"
            );
            None
        }
    }
}

/// `/proc/PID/stat`'s fields after the command name: state first, process group third.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = s.rsplit_once(')')?.1;
    Some(rest.split_whitespace().map(String::from).collect())
}

fn pids() -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
}

/// Whether `pid` is a live process (a zombie is not).
pub fn alive(pid: i32) -> bool {
    stat_fields(pid as u32).is_some_and(|f| f[0] != "Z" && f[0] != "X")
}

/// Whether a live process is in process group `pgid`.
pub fn group_alive(pgid: i32) -> bool {
    pids().any(|pid| {
        stat_fields(pid).is_some_and(|f| f[0] != "Z" && f[2].parse::<i32>().ok() == Some(pgid))
    })
}

/// Whether a live process's command line contains `marker`.
pub fn running_with(marker: &str) -> bool {
    pids().any(|pid| {
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        String::from_utf8_lossy(&cmd).contains(marker) && alive(pid as i32)
    })
}

/// Entries of the temporary folder whose name starts with `prefix` and that were changed at or
/// after `since` (an earlier run's kept logs are not this test's).
pub fn temp_dirs(prefix: &str, since: std::time::SystemTime) -> Vec<PathBuf> {
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .filter(|e| {
            e.metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= since)
        })
        .map(|e| e.path())
        .collect()
}

/// Runs `kscale run SCENARIO --cluster -q --out OUT` on kscale's own control plane.
pub fn run_cluster(bin: &Path, scenario: &Path, out: &Path) -> Output {
    kscale()
        .args(["run", "--cluster", "-q", "--out"])
        .arg(out)
        .arg(scenario)
        .env("KSCALE_CONTROLPLANE_BIN", bin)
        .output()
        .unwrap()
}

/// Runs the real kubectl of `bin` against `kubeconfig`.
pub fn kubectl(bin: &Path, kubeconfig: &Path, args: &[&str]) -> Output {
    Command::new(bin.join("kubectl"))
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .args(args)
        .output()
        .unwrap()
}

/// A control plane started with `kscale control-plane up --dir DIR`; stopped by
/// [`ControlPlane::down`], or when dropped (a failed assertion included).
pub struct ControlPlane {
    bin: PathBuf,
    dir: PathBuf,
    running: bool,
}

impl ControlPlane {
    /// Starts one from the binaries in `bin`, its state and kubeconfig in `dir`.
    pub fn up(bin: &Path, dir: &Path) -> ControlPlane {
        let up = kscale()
            .args(["control-plane", "up", "--dir"])
            .arg(dir)
            .env("KSCALE_CONTROLPLANE_BIN", bin)
            .output()
            .unwrap();
        assert_eq!(up.status.code(), Some(0), "{}", text(&up));
        ControlPlane {
            bin: bin.to_path_buf(),
            dir: dir.to_path_buf(),
            running: true,
        }
    }

    /// Its admin kubeconfig.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// Runs the real kubectl against it as the admin.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        kubectl(&self.bin, &self.kubeconfig(), args)
    }

    /// Stops it: `kscale control-plane down`'s output.
    pub fn down(mut self) -> Output {
        self.running = false;
        self.stop()
    }

    fn stop(&self) -> Output {
        kscale()
            .args(["control-plane", "down", "--dir"])
            .arg(&self.dir)
            .output()
            .unwrap()
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if self.running {
            let _ = self.stop();
        }
    }
}
