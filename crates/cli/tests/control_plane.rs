//! `kscale control-plane up|down|status`: the real control plane starts on loopback, serves
//! the Kubernetes API, and leaves no process or port behind, also on failure and Ctrl-C.
//!
//! The tests against real binaries need `KSCALE_CONTROLPLANE_BIN` (`.ci/run` sets it from
//! `kscale control-plane build`); without it they are skipped with a message. The failure and
//! interrupt tests use stand-in programs and always run.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{alive, group_alive, kscale, real_bin, text};
use std::time::{Duration, Instant};

fn port_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A folder of stand-in programs: etcd runs (with a child) until stopped; kube-apiserver runs
/// `apiserver_body`; kubectl always fails (so the API server is never ready). Each records its
/// pid in `pids/NAME`.
fn fake_bin(root: &Path, apiserver_body: &str) -> PathBuf {
    let bin = root.join("bin");
    let pids = root.join("pids");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&pids).unwrap();
    let script = |name: &str, body: &str| {
        let p = bin.join(name);
        std::fs::write(
            &p,
            format!(
                "#!/bin/sh\ncase \"$1\" in --version) echo 'Kubernetes v0.0.0-fake'; exit 0;; esac\necho $$ > {}/{name}\n{body}\n",
                pids.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    script("etcd", "sleep 300 &\nwait");
    script("kube-apiserver", apiserver_body);
    script("kube-controller-manager", "sleep 300 &\nwait");
    script("kube-scheduler", "sleep 300 &\nwait");
    script("kubectl", "exit 1");
    bin
}

fn recorded_pid(root: &Path, name: &str) -> Option<i32> {
    std::fs::read_to_string(root.join("pids").join(name))
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[test]
fn a_failing_component_is_named_with_its_log_and_nothing_is_left_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = fake_bin(
        tmp.path(),
        "echo 'E0101 run.go:72] \"command failed\" err=\"etcd is on fire\"' >&2\nexit 3",
    );
    let dir = tmp.path().join("cp");
    let out = kscale()
        .args(["control-plane", "up", "--dir"])
        .arg(&dir)
        .env("KSCALE_CONTROLPLANE_BIN", &bin)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("kube-apiserver failed"), "{t}");
    assert!(
        t.contains("etcd is on fire"),
        "the log's last lines are shown: {t}"
    );
    // etcd's script records its pid as its first command; on a loaded machine the stop can
    // come before it ran. Either way nothing may run afterwards: a survivor would record its
    // pid late, so look again after a pause.
    let etcd = recorded_pid(tmp.path(), "etcd").or_else(|| {
        std::thread::sleep(std::time::Duration::from_secs(1));
        recorded_pid(tmp.path(), "etcd")
    });
    if let Some(etcd) = etcd {
        assert!(!alive(etcd) && !group_alive(etcd), "etcd was left running");
    }
    assert!(
        !dir.join("control-plane.json").exists(),
        "a failed start leaves no state behind"
    );
}

#[test]
fn ctrl_c_while_starting_stops_every_process() {
    let tmp = tempfile::tempdir().unwrap();
    // An API server that never becomes ready.
    let bin = fake_bin(tmp.path(), "sleep 300 &\nwait");
    let dir = tmp.path().join("cp");
    let mut child = kscale()
        .args(["control-plane", "up", "--dir"])
        .arg(&dir)
        .env("KSCALE_CONTROLPLANE_BIN", &bin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while recorded_pid(tmp.path(), "kube-apiserver").is_none() {
        assert!(
            Instant::now() < deadline,
            "the API server was never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        assert!(Instant::now() < deadline, "kscale did not stop on Ctrl-C");
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    assert_eq!(code, Some(130), "{}", text(&out));
    assert!(text(&out).contains("interrupted"), "{}", text(&out));
    for name in ["etcd", "kube-apiserver"] {
        let pid = recorded_pid(tmp.path(), name).unwrap();
        assert!(!group_alive(pid), "{name} was left running after Ctrl-C");
    }
}

#[test]
fn down_without_a_control_plane_names_the_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let out = kscale()
        .args(["control-plane", "down", "--dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("holds no control plane"),
        "{}",
        text(&out)
    );
}

#[test]
fn missing_binaries_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let out = kscale()
        .args(["control-plane", "up", "--dir"])
        .arg(tmp.path().join("cp"))
        .env("KSCALE_CONTROLPLANE_BIN", tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("etcd is missing"), "{}", text(&out));
}

#[test]
fn up_serves_the_real_api_and_down_frees_everything() {
    let Some(bin) = real_bin("up_serves_the_real_api_and_down_frees_everything") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cp");
    let up = kscale()
        .args(["control-plane", "up", "--dir"])
        .arg(&dir)
        .env("KSCALE_CONTROLPLANE_BIN", &bin)
        .output()
        .unwrap();
    assert_eq!(up.status.code(), Some(0), "{}", text(&up));
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("control-plane.json")).unwrap())
            .unwrap();
    let pids: Vec<i32> = state["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pid"].as_i64().unwrap() as i32)
        .collect();
    let ports: Vec<u16> = state["ports"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap() as u16)
        .collect();
    let kubectl = |args: &[&str]| {
        Command::new(bin.join("kubectl"))
            .arg(format!("--kubeconfig={}", dir.join("kubeconfig").display()))
            .args(args)
            .output()
            .unwrap()
    };
    // Run the checks, then always stop the control plane before asserting.
    let version = kubectl(&["version", "-o", "json"]);
    let can_i = kubectl(&["auth", "can-i", "create", "nodes"]);
    let apply = Command::new(bin.join("kubectl"))
        .arg(format!("--kubeconfig={}", dir.join("kubeconfig").display()))
        .args([
            "create",
            "deployment",
            "web",
            "--image=nginx",
            "--replicas=2",
        ])
        .output()
        .unwrap();
    // The real Deployment and ReplicaSet controllers create the pods; no node holds them.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut pods = String::new();
    while Instant::now() < deadline {
        let o = kubectl(&["get", "pods", "-l", "app=web", "-o", "name"]);
        pods = String::from_utf8_lossy(&o.stdout).to_string();
        if pods.lines().count() == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let status = kscale()
        .args(["control-plane", "status", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let down = kscale()
        .args(["control-plane", "down", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();

    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    assert!(
        text(&status).contains("kube-scheduler"),
        "{}",
        text(&status)
    );
    let v: serde_json::Value = serde_json::from_slice(&version.stdout).unwrap();
    let server = v["serverVersion"]["gitVersion"].as_str().unwrap();
    assert!(server.starts_with("v1."), "server version {server}");
    assert_eq!(
        v["clientVersion"]["gitVersion"],
        v["serverVersion"]["gitVersion"]
    );
    assert_eq!(String::from_utf8_lossy(&can_i.stdout).trim(), "yes");
    assert!(apply.status.success(), "{}", text(&apply));
    assert_eq!(pods.lines().count(), 2, "pods: {pods}");

    assert_eq!(down.status.code(), Some(0), "{}", text(&down));
    assert_eq!(pids.len(), 4);
    for pid in pids {
        assert!(!alive(pid) && !group_alive(pid), "pid {pid} left running");
    }
    for port in ports {
        assert!(port_free(port), "port {port} still bound");
    }
}
