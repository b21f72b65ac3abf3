//! Finding (and if needed building) the control plane's binaries.
//!
//! Order: `KSCALE_CONTROLPLANE_BIN` names a folder holding prebuilt `kube-apiserver`,
//! `kube-controller-manager`, `kube-scheduler`, `kubectl` and `etcd`; otherwise
//! `controlplane/build.sh` (found through `KSCALE_CONTROLPLANE_SRC`, else beside this
//! source tree) builds them from the pinned Go module into its cache and prints the folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::Error;

/// The five programs a control plane is made of.
pub const NAMES: [&str; 5] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
];

/// A folder holding the control plane's programs.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// The folder.
    pub dir: PathBuf,
}

impl Binaries {
    /// The path of one program (one of [`NAMES`]).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Checks that every program is there and executable.
    pub fn check(dir: &Path) -> Result<Binaries, Error> {
        for name in NAMES {
            let p = dir.join(name);
            if !p.is_file() {
                return Err(Error::Binaries(format!(
                    "{} is missing (the folder must hold {})",
                    p.display(),
                    NAMES.join(", ")
                )));
            }
        }
        Ok(Binaries {
            dir: dir.to_path_buf(),
        })
    }

    /// The release the API server reports (`kube-apiserver --version`, e.g. `v1.37.2`).
    pub fn version(&self) -> Result<String, Error> {
        let out = Command::new(self.path("kube-apiserver"))
            .arg("--version")
            .output()
            .map_err(|e| Error::Binaries(format!("running kube-apiserver --version: {e}")))?;
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(text
            .split_whitespace()
            .last()
            .unwrap_or("unknown")
            .to_string())
    }
}

/// The folder of `build.sh`: `KSCALE_CONTROLPLANE_SRC`, else the repository's `controlplane/`.
pub fn source_dir() -> PathBuf {
    match std::env::var_os("KSCALE_CONTROLPLANE_SRC") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../controlplane"),
    }
}

/// Finds the binaries, building them when `KSCALE_CONTROLPLANE_BIN` is unset. The build's
/// progress goes to standard error; a failed build returns the last lines of its log.
pub fn locate_or_build() -> Result<Binaries, Error> {
    if let Some(dir) = std::env::var_os("KSCALE_CONTROLPLANE_BIN") {
        return Binaries::check(Path::new(&dir));
    }
    let src = source_dir();
    let script = src.join("build.sh");
    if !script.is_file() {
        return Err(Error::Binaries(format!(
            "no prebuilt control plane (KSCALE_CONTROLPLANE_BIN is unset) and no build script at {} \
             (set KSCALE_CONTROLPLANE_SRC to the repository's controlplane/ folder)",
            script.display()
        )));
    }
    if Command::new("go")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        return Err(Error::Binaries(
            "building the control plane needs Go 1.26 or newer on PATH (`go` was not found); \
             or set KSCALE_CONTROLPLANE_BIN to a folder of prebuilt binaries"
                .into(),
        ));
    }
    let out = Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| Error::Binaries(format!("running {}: {e}", script.display())))?;
    if !out.status.success() {
        return Err(Error::Binaries(format!(
            "{} failed ({}); its last log lines are above",
            script.display(),
            out.status
        )));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let dir = stdout.lines().last().unwrap_or("").trim();
    Binaries::check(Path::new(dir))
}
