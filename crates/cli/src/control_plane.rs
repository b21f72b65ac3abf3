//! `kscale control-plane build|up|down|status`: the real control plane of `--cluster` runs,
//! on loopback, in a directory of its own (see the `kscale-controlplane` crate).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Subcommand;
use kscale_controlplane as cp;

/// The directory a control plane lives in when `--dir` is not given.
pub const DEFAULT_DIR: &str = "kscale-out/control-plane";

/// `kscale control-plane` subcommands.
#[derive(Subcommand, Debug)]
pub enum Action {
    /// Build the pinned control plane from Go modules (once; cached outside the repository)
    /// and print the folder of its binaries.
    Build,
    /// Build if needed, start etcd, kube-apiserver, kube-controller-manager and
    /// kube-scheduler in the background on free loopback ports, write DIR/kubeconfig and exit
    /// 0 once the API server is ready.
    Up {
        /// The control plane's directory (kubeconfig, pki/, logs/, etcd/, state file).
        #[arg(long, default_value = DEFAULT_DIR)]
        dir: std::path::PathBuf,
    },
    /// Stop the control plane started in DIR and wait until its ports are free.
    Down {
        /// The control plane's directory.
        #[arg(long, default_value = DEFAULT_DIR)]
        dir: std::path::PathBuf,
    },
    /// Print the control plane's state file and which of its processes are alive.
    Status {
        /// The control plane's directory.
        #[arg(long, default_value = DEFAULT_DIR)]
        dir: std::path::PathBuf,
    },
}

/// Runs one action. Exit codes: 0 done, 1 a failure (the message names the component and
/// shows its last log lines), 130 interrupted.
pub fn run(action: Action) -> ExitCode {
    match action {
        Action::Build => match cp::binaries::locate_or_build() {
            Ok(b) => {
                println!("{}", b.dir.display());
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
        Action::Up { dir } => up(&dir),
        Action::Down { dir } => match cp::down(&dir) {
            Ok(report) => {
                if report.stopped.is_empty() {
                    println!("nothing was running in {}", dir.display());
                } else {
                    println!("stopped {}", report.stopped.join(", "));
                }
                if !report.busy_ports.is_empty() {
                    eprintln!(
                        "warning: ports still bound by another process: {:?}",
                        report.busy_ports
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
        Action::Status { dir } => match cp::State::read(&dir) {
            Ok(state) => {
                println!("{} (API server {})", state.version, state.server);
                println!("kubeconfig: {}", state.kubeconfig.display());
                for p in &state.processes {
                    let alive = if p.alive() { "running" } else { "exited" };
                    println!("{:<24} pid {:<8} {alive}", p.name, p.pid);
                }
                if state.alive().len() == state.processes.len() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
            Err(e) => fail(&e),
        },
    }
}

fn fail(e: &cp::Error) -> ExitCode {
    eprintln!("error: {e}");
    match e {
        cp::Error::Interrupted => ExitCode::from(130),
        _ => ExitCode::from(1),
    }
}

/// Sets the returned flag on Ctrl-C (SIGINT) or SIGTERM.
pub fn interrupt_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    // Fails only if a handler is already installed; the flag then stays unset.
    let _ = ctrlc::set_handler(move || f.store(true, Ordering::SeqCst));
    flag
}

fn up(dir: &Path) -> ExitCode {
    let cancel = interrupt_flag();
    let bins = match cp::binaries::locate_or_build() {
        Ok(b) => b,
        Err(e) => return fail(&e),
    };
    if cancel.load(Ordering::SeqCst) {
        return fail(&cp::Error::Interrupted);
    }
    eprintln!("kscale: starting the control plane in {}", dir.display());
    match cp::up(dir, &bins, &cp::UpOptions::default(), &cancel) {
        Ok(state) => {
            println!("control plane {} ready at {}", state.version, state.server);
            println!("kubeconfig: {}", state.kubeconfig.display());
            println!(
                "stop it with: kscale control-plane down --dir {}",
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}
