//! The typed result of parsing: [`Invocation`], [`GlobalFlags`] and [`Command`].

use super::output::OutputFormat;
use crate::kinds::Kind;
use crate::patch::PatchType;

/// Flags every command accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GlobalFlags {
    /// `-n/--namespace`; `None` means the caller's default namespace.
    pub namespace: Option<String>,
    /// `-A/--all-namespaces`.
    pub all_namespaces: bool,
    /// `-o/--output`.
    pub output: Option<OutputFormat>,
    /// `-l/--selector`, unparsed (label selector syntax, e.g. `app=web,tier!=db`).
    pub selector: Option<String>,
    /// `--field-selector` of `get`, unparsed (`status.phase=Running,spec.nodeName!=n1`).
    pub field_selector: Option<String>,
    /// `--show-labels` of `get`: a last LABELS column.
    pub show_labels: bool,
    /// `-L/--label-columns` of `get` (repeatable, comma-separated): a column per label key.
    pub label_columns: Vec<String>,
}

/// A parsed command line: the global flags plus the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// Global flags.
    pub global: GlobalFlags,
    /// The command.
    pub command: Command,
}

impl Invocation {
    /// The files the command reads (`-f` of apply, create and delete), to check they exist
    /// before running it.
    pub fn files(&self) -> &[String] {
        match &self.command {
            Command::Apply { files, .. } | Command::Create(CreateCommand::Files { files, .. }) => {
                files
            }
            Command::Delete {
                target: DeleteTarget::Files(files),
                ..
            } => files,
            _ => &[],
        }
    }
}

/// A kind plus an optional name: one item of `get`/`describe` arguments.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// The resolved kind.
    pub kind: Kind,
    /// The object name; `None` means every object of the kind (filtered by `-l`).
    pub name: Option<String>,
}

/// A kind plus a name: one object.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectRef {
    /// The resolved kind.
    pub kind: Kind,
    /// The object name.
    pub name: String,
}

/// What `kubectl delete` deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteTarget {
    /// Named objects: `delete pod a b`, `delete pod/a deploy/b`.
    Named(Vec<ObjectRef>),
    /// Every object of the kinds matching `-l SELECTOR`.
    Selector {
        /// The kinds.
        kinds: Vec<Kind>,
        /// The label selector, unparsed.
        selector: String,
    },
    /// `--all`: every object of the kinds in the namespace.
    All {
        /// The kinds.
        kinds: Vec<Kind>,
    },
    /// `-f FILE...`: the objects described by the manifests.
    Files(Vec<String>),
}

/// One change of `label` / `annotate`: `key=value` or `key-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaChange {
    /// Set `key` to `value`.
    Set {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// Remove `key` (`key-`).
    Remove {
        /// The key.
        key: String,
    },
}

/// One change of `kubectl taint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaintChange {
    /// `key[=value]:Effect`: add (or with `--overwrite`, update) a taint.
    Add {
        /// The taint key.
        key: String,
        /// The taint value, if any.
        value: Option<String>,
        /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
        effect: String,
    },
    /// `key[:Effect]-`: remove taints with this key (and this effect, if given).
    Remove {
        /// The taint key.
        key: String,
        /// The effect to match, `None` for every effect.
        effect: Option<String>,
    },
}

/// `kubectl create` forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateCommand {
    /// `create -f FILE...`.
    Files {
        /// Files or folders.
        files: Vec<String>,
        /// `-R/--recursive`: walk folders recursively.
        recursive: bool,
    },
    /// `create namespace NAME`.
    Namespace {
        /// The namespace name.
        name: String,
    },
    /// `create deployment NAME --image=IMG [--replicas=N]`.
    Deployment {
        /// The deployment name.
        name: String,
        /// One container per image (kubectl names them after the image).
        images: Vec<String>,
        /// `--replicas`, default 1.
        replicas: i64,
    },
}

/// A parsed kubectl command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `apply -f FILE...`.
    Apply {
        /// Files or folders.
        files: Vec<String>,
        /// `-R/--recursive`.
        recursive: bool,
    },
    /// `create ...`.
    Create(CreateCommand),
    /// `delete ...`.
    Delete {
        /// What to delete.
        target: DeleteTarget,
        /// `--grace-period`; kubectl's default -1 is `None`.
        grace_period: Option<i64>,
        /// `--now` (grace period 1).
        now: bool,
        /// `--force`.
        force: bool,
        /// `--ignore-not-found`.
        ignore_not_found: bool,
    },
    /// `scale KIND NAME... --replicas=N`.
    Scale {
        /// The objects to scale.
        targets: Vec<ObjectRef>,
        /// `--replicas`, unvalidated (may be negative: see [`validate_replicas`]).
        replicas: i64,
        /// `--current-replicas` precondition; kubectl's default -1 is `None`.
        current_replicas: Option<i64>,
    },
    /// `autoscale KIND NAME --max=N [--min=N] [--cpu-percent=N] [--name=X]`.
    Autoscale {
        /// The scale target.
        target: ObjectRef,
        /// `--min`; kubectl's default -1 (server default 1) is `None`.
        min: Option<i64>,
        /// `--max` (required).
        max: i64,
        /// `--cpu-percent`; kubectl's default -1 (server default 80) is `None`.
        cpu_percent: Option<i64>,
        /// `--name` of the HPA; default the target's name.
        name: Option<String>,
    },
    /// `patch KIND NAME -p PATCH [--type T]`.
    Patch {
        /// The object.
        target: ObjectRef,
        /// The raw patch text.
        patch: String,
        /// `--type`, default strategic.
        patch_type: PatchType,
        /// `--subresource`: `status`, `scale` or `resize` (None: the object itself).
        subresource: Option<String>,
    },
    /// `get KIND[,KIND] [NAME...]` or `get KIND/NAME...`.
    Get {
        /// What to list, in command-line order (names are crossed with kinds).
        targets: Vec<Target>,
    },
    /// `describe KIND [NAME...]`.
    Describe {
        /// What to describe.
        targets: Vec<Target>,
    },
    /// `label KIND NAME... k=v k2-`.
    Label {
        /// The kind.
        kind: Kind,
        /// Object names; empty with `--all` or `-l`.
        names: Vec<String>,
        /// `--all`.
        all: bool,
        /// The changes, in order.
        changes: Vec<MetaChange>,
        /// `--overwrite`.
        overwrite: bool,
    },
    /// `annotate KIND NAME... k=v k2-`.
    Annotate {
        /// The kind.
        kind: Kind,
        /// Object names; empty with `--all` or `-l`.
        names: Vec<String>,
        /// `--all`.
        all: bool,
        /// The changes, in order.
        changes: Vec<MetaChange>,
        /// `--overwrite`.
        overwrite: bool,
    },
    /// `taint nodes NAME... SPEC...`.
    Taint {
        /// Node names; empty with `--all` or `-l`.
        nodes: Vec<String>,
        /// `--all`.
        all: bool,
        /// The changes, in order.
        changes: Vec<TaintChange>,
        /// `--overwrite`.
        overwrite: bool,
    },
    /// `cordon NODE...`.
    Cordon {
        /// Node names; empty with `-l`.
        nodes: Vec<String>,
    },
    /// `uncordon NODE...`.
    Uncordon {
        /// Node names; empty with `-l`.
        nodes: Vec<String>,
    },
    /// `drain NODE... [flags]`.
    Drain {
        /// Node names; empty with `-l`.
        nodes: Vec<String>,
        /// `--ignore-daemonsets`.
        ignore_daemonsets: bool,
        /// `--delete-emptydir-data` (or its deprecated alias `--delete-local-data`).
        delete_emptydir_data: bool,
        /// `--force`.
        force: bool,
        /// `--grace-period`; kubectl's default -1 is `None`.
        grace_period: Option<i64>,
        /// `--disable-eviction`.
        disable_eviction: bool,
        /// `--timeout` as given (Go duration text), `None` for kubectl's infinite default.
        timeout: Option<String>,
    },
    /// `rollout restart KIND NAME...`.
    RolloutRestart {
        /// The workloads to restart.
        targets: Vec<ObjectRef>,
    },
    /// `rollout status KIND/NAME`: waits for a rollout, printing kubectl's progress lines.
    RolloutStatus {
        /// The Deployment, DaemonSet or StatefulSet.
        target: ObjectRef,
        /// `--watch` (default true): false prints the current status once.
        watch: bool,
        /// `--timeout`; `None` (kubectl's `0s`) waits as long as it takes.
        timeout_ms: Option<u64>,
    },
    /// `wait --for=... RESOURCE...`: waits for each object's condition, in turn.
    Wait {
        /// The objects (by name, or a kind with `-l`/`--all`).
        targets: Vec<Target>,
        /// `--all`.
        all: bool,
        /// `--for`.
        wait_for: WaitFor,
        /// `--timeout` (kubectl's default 30s; 0 checks once).
        timeout_ms: u64,
    },
    /// `top pod|node [NAME]`: usage from the resource metrics API.
    Top(TopCommand),
    /// `set image KIND/NAME container=image...`.
    SetImage {
        /// The workload.
        target: ObjectRef,
        /// `(container, image)` pairs; container `*` means every container.
        images: Vec<(String, String)>,
    },
}

/// What `kubectl top` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopResource {
    /// `top pod` (`pods`, `po`).
    Pods,
    /// `top node` (`nodes`, `no`).
    Nodes,
}

/// `--sort-by` of `kubectl top`: largest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopSort {
    /// `cpu`.
    Cpu,
    /// `memory`.
    Memory,
}

/// `kubectl top pod|node [NAME] [flags]` (k8s.io/kubectl `pkg/cmd/top`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopCommand {
    /// Pods or nodes.
    pub resource: TopResource,
    /// One pod or node by name.
    pub name: Option<String>,
    /// `--containers` (pods): one line per container.
    pub containers: bool,
    /// `--no-headers`.
    pub no_headers: bool,
    /// `--sort-by`; by name (namespace first with `-A`) when `None`.
    pub sort_by: Option<TopSort>,
    /// `--sum` (pods): a total line.
    pub sum: bool,
    /// `--show-capacity` (nodes): percentages of capacity instead of allocatable.
    pub show_capacity: bool,
}

/// `kubectl wait --for`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitFor {
    /// `--for=condition=NAME[=VALUE]` (VALUE `true` by default; both compared ignoring case).
    Condition {
        /// The condition type.
        name: String,
        /// The status it must have.
        value: String,
    },
    /// `--for=jsonpath=TEMPLATE[=VALUE]`: the template finds one value (equal to VALUE).
    JsonPath {
        /// The (relaxed) template, `{...}`.
        template: String,
        /// The value it must print, if given.
        value: Option<String>,
    },
    /// `--for=delete`.
    Delete,
    /// `--for=create`.
    Create,
}
