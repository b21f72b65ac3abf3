//! The real Kubernetes control plane that `kscale run --cluster` runs against:
//! `kube-apiserver`, `etcd`, `kube-controller-manager` and `kube-scheduler` (and `kubectl`),
//! built from the pinned Go module in `controlplane/` and started on loopback only, on free
//! ports, with generated certificates, a service-account key pair and RBAC authorization.
//!
//! A control plane lives in a directory: `kubeconfig` (the administrator's), `pki/`,
//! `logs/<component>.log`, `etcd/` (its data) and `control-plane.json` (the state file that
//! [`down`] reads: pids, programs, ports). The flags follow upstream's
//! `hack/local-up-cluster.sh` and kubeadm's static pod manifests
//! (`cmd/kubeadm/app/phases/controlplane/manifests.go`).

pub mod binaries;
pub mod kubeconfig;
pub mod pki;
pub mod process;

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use binaries::Binaries;
use pki::Pki;
pub use process::Proc;

/// The state file's name inside a control plane's directory.
pub const STATE_FILE: &str = "control-plane.json";

/// The service range (allocation only: nothing routes to it, there is no kube-proxy).
pub const SERVICE_CIDR: &str = "10.96.0.0/16";

/// Log lines shown with a component's failure.
const TAIL_LINES: usize = 20;

/// What went wrong, naming the component and showing its last log lines.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The binaries are missing or could not be built.
    #[error("control plane binaries: {0}")]
    Binaries(String),
    /// A component failed to start or exited.
    #[error("{component} failed: {detail}{}", if log_tail.is_empty() { String::new() } else { format!("\n--- last lines of its log ---\n{log_tail}") })]
    Start {
        /// The component.
        component: String,
        /// What happened.
        detail: String,
        /// Its log's last lines.
        log_tail: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Certificates could not be generated.
    #[error(transparent)]
    Pki(#[from] pki::PkiError),
    /// The directory holds no control plane, or one that is already running.
    #[error("{0}")]
    State(String),
    /// Interrupted (Ctrl-C) while starting; everything started was stopped.
    #[error("interrupted; every process started was stopped")]
    Interrupted,
}

impl Error {
    fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// Ports the control plane listens on (all on 127.0.0.1).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Ports {
    /// etcd's client port.
    pub etcd_client: u16,
    /// etcd's peer port.
    pub etcd_peer: u16,
    /// The API server's secure port.
    pub apiserver: u16,
}

impl Ports {
    /// Every port, for checks that they are free again.
    pub fn all(&self) -> [u16; 3] {
        [self.etcd_client, self.etcd_peer, self.apiserver]
    }
}

/// A running control plane, as the state file records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// The release (`v1.37.2`).
    pub version: String,
    /// The API server's URL.
    pub server: String,
    /// The administrator's kubeconfig.
    pub kubeconfig: PathBuf,
    /// The folder of the binaries (kubectl among them).
    pub bin: PathBuf,
    /// The ports.
    pub ports: Ports,
    /// The processes, in start order.
    pub processes: Vec<Proc>,
}

impl State {
    /// Reads `DIR/control-plane.json`.
    pub fn read(dir: &Path) -> Result<State, Error> {
        let path = dir.join(STATE_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::State(format!(
                    "{} holds no control plane ({} is missing; `kscale control-plane up --dir {}` writes it)",
                    dir.display(),
                    STATE_FILE,
                    dir.display()
                ))
            } else {
                Error::io(&path, e)
            }
        })?;
        serde_json::from_str(&text).map_err(|e| {
            Error::State(format!(
                "{}: not a control plane state file: {e}",
                path.display()
            ))
        })
    }

    /// The processes still alive.
    pub fn alive(&self) -> Vec<&Proc> {
        self.processes.iter().filter(|p| p.alive()).collect()
    }

    /// The path of `kubectl`.
    pub fn kubectl(&self) -> PathBuf {
        self.bin.join("kubectl")
    }
}

/// Options of [`up`].
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// How long to wait for the API server (and the controller manager's first work).
    pub ready_timeout: Duration,
}

impl Default for UpOptions {
    fn default() -> Self {
        // Assumption: a cold API server on 2 cores is ready within ~20 s; 180 s leaves room.
        UpOptions {
            ready_timeout: Duration::from_secs(180),
        }
    }
}

/// Picks `n` distinct free loopback ports (bound together, then released).
fn free_ports<const N: usize>() -> Result<[u16; N], Error> {
    let mut listeners = Vec::with_capacity(N);
    let mut ports = [0u16; N];
    for p in ports.iter_mut() {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| Error::State(format!("no free loopback port: {e}")))?;
        *p = l
            .local_addr()
            .map_err(|e| Error::State(e.to_string()))?
            .port();
        listeners.push(l);
    }
    Ok(ports)
}

/// Whether a loopback port can be bound (nothing listens on it).
pub fn port_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

fn write(path: &Path, text: &str) -> Result<(), Error> {
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

fn s(x: impl std::fmt::Display) -> String {
    x.to_string()
}

/// Starts a control plane in `dir` with the given binaries and waits until the API server is
/// ready and the controller manager has created the `default` ServiceAccount (before that,
/// pods are refused). `cancel` set (e.g. by Ctrl-C) stops what was started. On any failure
/// every process started is stopped and the error shows the failing component's log.
pub fn up(
    dir: &Path,
    bins: &Binaries,
    opts: &UpOptions,
    cancel: &AtomicBool,
) -> Result<State, Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let dir = dir.canonicalize().map_err(|e| Error::io(dir, e))?;
    if let Ok(old) = State::read(&dir) {
        let alive: Vec<String> = old
            .alive()
            .iter()
            .map(|p| format!("{} (pid {})", p.name, p.pid))
            .collect();
        if !alive.is_empty() {
            return Err(Error::State(format!(
                "a control plane already runs in {}: {}; `kscale control-plane down --dir {}` stops it",
                dir.display(),
                alive.join(", "),
                dir.display()
            )));
        }
    }
    // A fresh cluster each time: no data survives from an earlier one.
    for sub in ["etcd", "pki", "logs"] {
        let p = dir.join(sub);
        if p.exists() {
            std::fs::remove_dir_all(&p).map_err(|e| Error::io(&p, e))?;
        }
        std::fs::create_dir_all(&p).map_err(|e| Error::io(&p, e))?;
    }
    let pki_dir = dir.join("pki");
    let service_ip = Ipv4Addr::new(10, 96, 0, 1);
    let pki = Pki::generate(service_ip)?;
    let files = |name: &str, pem: &pki::Pem| -> Result<(PathBuf, PathBuf), Error> {
        let (c, k) = (
            pki_dir.join(format!("{name}.crt")),
            pki_dir.join(format!("{name}.key")),
        );
        write(&c, &pem.cert)?;
        write(&k, &pem.key)?;
        Ok((c, k))
    };
    let (ca_crt, _) = files("ca", &pki.ca)?;
    let (srv_crt, srv_key) = files("apiserver", &pki.apiserver)?;
    let (fp_ca, _) = files("front-proxy-ca", &pki.front_proxy_ca)?;
    let (fp_crt, fp_key) = files("front-proxy-client", &pki.front_proxy_client)?;
    let sa_key = pki_dir.join("sa.key");
    let sa_pub = pki_dir.join("sa.pub");
    write(&sa_key, &pki.service_account_key)?;
    write(&sa_pub, &pki.service_account_pub)?;

    let [etcd_client, etcd_peer, apiserver] = free_ports::<3>()?;
    let ports = Ports {
        etcd_client,
        etcd_peer,
        apiserver,
    };
    let server = format!("https://127.0.0.1:{apiserver}");
    let kubeconfig = dir.join("kubeconfig");
    write(
        &kubeconfig,
        &kubeconfig::render(&server, &pki.ca.cert, "kscale-admin", &pki.admin),
    )?;
    let cm_kubeconfig = pki_dir.join("controller-manager.kubeconfig");
    write(
        &cm_kubeconfig,
        &kubeconfig::render(
            &server,
            &pki.ca.cert,
            "system:kube-controller-manager",
            &pki.controller_manager,
        ),
    )?;
    let sched_kubeconfig = pki_dir.join("scheduler.kubeconfig");
    write(
        &sched_kubeconfig,
        &kubeconfig::render(
            &server,
            &pki.ca.cert,
            "system:kube-scheduler",
            &pki.scheduler,
        ),
    )?;

    let version = bins.version()?;
    let mut state = State {
        version,
        server: server.clone(),
        kubeconfig: kubeconfig.clone(),
        bin: bins.dir.clone(),
        ports,
        processes: Vec::new(),
    };
    let result = start_all(
        &dir,
        bins,
        opts,
        cancel,
        &mut state,
        Paths {
            ca_crt: &ca_crt,
            srv_crt: &srv_crt,
            srv_key: &srv_key,
            fp_ca: &fp_ca,
            fp_crt: &fp_crt,
            fp_key: &fp_key,
            sa_key: &sa_key,
            sa_pub: &sa_pub,
            cm_kubeconfig: &cm_kubeconfig,
            sched_kubeconfig: &sched_kubeconfig,
        },
    );
    match result {
        Ok(()) => Ok(state),
        Err(e) => {
            stop(&state);
            let _ = std::fs::remove_file(dir.join(STATE_FILE));
            Err(e)
        }
    }
}

struct Paths<'a> {
    ca_crt: &'a Path,
    srv_crt: &'a Path,
    srv_key: &'a Path,
    fp_ca: &'a Path,
    fp_crt: &'a Path,
    fp_key: &'a Path,
    sa_key: &'a Path,
    sa_pub: &'a Path,
    cm_kubeconfig: &'a Path,
    sched_kubeconfig: &'a Path,
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

fn start_all(
    dir: &Path,
    bins: &Binaries,
    opts: &UpOptions,
    cancel: &AtomicBool,
    state: &mut State,
    f: Paths<'_>,
) -> Result<(), Error> {
    let logs = dir.join("logs");
    let ports = state.ports;
    let launch = |state: &mut State, name: &str, args: Vec<String>| -> Result<(), Error> {
        let proc = Proc::spawn(
            name,
            &bins.path(name),
            &args,
            &logs.join(format!("{name}.log")),
        )?;
        state.processes.push(proc);
        // Written after every start, so `down` finds whatever was started.
        write(
            &dir.join(STATE_FILE),
            &serde_json::to_string_pretty(state).expect("state serializes"),
        )
    };
    let etcd_url = format!("http://127.0.0.1:{}", ports.etcd_client);
    let peer_url = format!("http://127.0.0.1:{}", ports.etcd_peer);
    launch(
        state,
        "etcd",
        vec![
            s("--name=kscale"),
            format!("--data-dir={}", p(&dir.join("etcd"))),
            format!("--listen-client-urls={etcd_url}"),
            format!("--advertise-client-urls={etcd_url}"),
            format!("--listen-peer-urls={peer_url}"),
            format!("--initial-advertise-peer-urls={peer_url}"),
            format!("--initial-cluster=kscale={peer_url}"),
            s("--log-level=warn"),
            // A throwaway cluster: no fsync (as upstream's integration tests run etcd).
            s("--unsafe-no-fsync=true"),
        ],
    )?;
    launch(
        state,
        "kube-apiserver",
        vec![
            format!("--etcd-servers={etcd_url}"),
            s("--bind-address=127.0.0.1"),
            s("--advertise-address=127.0.0.1"),
            format!("--secure-port={}", ports.apiserver),
            format!("--cert-dir={}", p(&dir.join("pki"))),
            format!("--tls-cert-file={}", p(f.srv_crt)),
            format!("--tls-private-key-file={}", p(f.srv_key)),
            format!("--client-ca-file={}", p(f.ca_crt)),
            format!("--service-account-key-file={}", p(f.sa_pub)),
            format!("--service-account-signing-key-file={}", p(f.sa_key)),
            s("--service-account-issuer=https://kubernetes.default.svc.cluster.local"),
            format!("--service-cluster-ip-range={SERVICE_CIDR}"),
            s("--authorization-mode=Node,RBAC"),
            s("--allow-privileged=true"),
            // The advertised address is loopback, which the `kubernetes` Service's endpoints
            // may not hold (upstream's integration framework runs without it too).
            s("--endpoint-reconciler-type=none"),
            s("--profiling=false"),
            // The aggregation layer, for the metrics APIs kscale serves.
            format!("--requestheader-client-ca-file={}", p(f.fp_ca)),
            s("--requestheader-allowed-names=front-proxy-client"),
            s("--requestheader-extra-headers-prefix=X-Remote-Extra-"),
            s("--requestheader-group-headers=X-Remote-Group"),
            s("--requestheader-username-headers=X-Remote-User"),
            format!("--proxy-client-cert-file={}", p(f.fp_crt)),
            format!("--proxy-client-key-file={}", p(f.fp_key)),
        ],
    )?;
    let kubectl = bins.path("kubectl");
    let deadline = Instant::now() + opts.ready_timeout;
    wait_for(
        state,
        cancel,
        deadline,
        "kube-apiserver",
        "/readyz did not answer ok",
        || kubectl_ok(&kubectl, &state_kubeconfig(dir), &["get", "--raw=/readyz"]),
    )?;
    launch(
        state,
        "kube-controller-manager",
        vec![
            format!("--kubeconfig={}", p(f.cm_kubeconfig)),
            format!("--authentication-kubeconfig={}", p(f.cm_kubeconfig)),
            format!("--authorization-kubeconfig={}", p(f.cm_kubeconfig)),
            format!("--service-account-private-key-file={}", p(f.sa_key)),
            format!("--root-ca-file={}", p(f.ca_crt)),
            s("--use-service-account-credentials=true"),
            format!("--service-cluster-ip-range={SERVICE_CIDR}"),
            s("--leader-elect=false"),
            // No serving port: nothing scrapes it, and no port can clash.
            s("--secure-port=0"),
            s("--profiling=false"),
        ],
    )?;
    launch(
        state,
        "kube-scheduler",
        vec![
            format!("--kubeconfig={}", p(f.sched_kubeconfig)),
            s("--leader-elect=false"),
            s("--secure-port=0"),
            s("--profiling=false"),
        ],
    )?;
    wait_for(
        state,
        cancel,
        deadline,
        "kube-controller-manager",
        "the default ServiceAccount was not created",
        || {
            kubectl_ok(
                &kubectl,
                &state_kubeconfig(dir),
                &["get", "serviceaccount", "default", "--namespace=default"],
            )
        },
    )?;
    Ok(())
}

fn state_kubeconfig(dir: &Path) -> PathBuf {
    dir.join("kubeconfig")
}

/// Runs kubectl quietly; true when it exits 0.
fn kubectl_ok(kubectl: &Path, kubeconfig: &Path, args: &[&str]) -> bool {
    Command::new(kubectl)
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .arg("--request-timeout=5s")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Polls `ready` until true, failing when a process exits, on the deadline or on `cancel`.
fn wait_for(
    state: &State,
    cancel: &AtomicBool,
    deadline: Instant,
    component: &str,
    what: &str,
    mut ready: impl FnMut() -> bool,
) -> Result<(), Error> {
    loop {
        if cancel.load(Ordering::SeqCst) {
            return Err(Error::Interrupted);
        }
        if let Some(dead) = state.processes.iter().find(|p| !p.alive()) {
            return Err(Error::Start {
                component: dead.name.clone(),
                detail: "exited while the control plane was starting".into(),
                log_tail: dead.log_tail(TAIL_LINES),
            });
        }
        if ready() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let log_tail = state
                .processes
                .iter()
                .find(|p| p.name == component)
                .map(|p| p.log_tail(TAIL_LINES))
                .unwrap_or_default();
            return Err(Error::Start {
                component: component.to_string(),
                detail: format!("not ready in time: {what}"),
                log_tail,
            });
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Stops every process of `state`, last started first.
pub fn stop(state: &State) {
    for proc in state.processes.iter().rev() {
        proc.stop(Duration::from_secs(10));
    }
}

/// What [`down`] did.
#[derive(Debug, Clone)]
pub struct DownReport {
    /// Components that were running and were stopped.
    pub stopped: Vec<String>,
    /// Ports still bound after the processes were gone (normally none).
    pub busy_ports: Vec<u16>,
}

/// Stops the control plane of `dir` (as recorded in its state file), waits for its ports to
/// be free and removes the state file. The logs, certificates and kubeconfig stay.
pub fn down(dir: &Path) -> Result<DownReport, Error> {
    let state = State::read(dir)?;
    let stopped = state.alive().iter().map(|p| p.name.clone()).collect();
    stop(&state);
    if let Some(p) = state.processes.iter().find(|p| p.alive()) {
        return Err(Error::Start {
            component: p.name.clone(),
            detail: format!("pid {} did not exit after SIGKILL", p.pid),
            log_tail: String::new(),
        });
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut busy: Vec<u16> = state.ports.all().to_vec();
    while !busy.is_empty() && Instant::now() < deadline {
        busy.retain(|port| !port_free(*port));
        if !busy.is_empty() {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let path = dir.join(STATE_FILE);
    std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
    Ok(DownReport {
        stopped,
        busy_ports: busy,
    })
}
