//! `kscale`: deterministic what-if simulation of Kubernetes autoscaling.
//!
//! Exit codes: 0 success, 2 bad input (the message names the file, line or field), 1 any other
//! failure (for example an output directory that cannot be written).

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// `println!` that ends the process quietly when standard output is closed (`kscale ... |
/// head`), as Unix tools do, instead of panicking. Defined before the modules so that theirs
/// is this one.
macro_rules! println {
    () => {
        $crate::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` with [`println!`]'s handling of a closed standard output.
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::write_stdout(format_args!($($arg)*))
    };
}

/// Writes to standard output; a closed pipe ends the process with exit code 0, any other
/// write error with 1.
fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    if let Err(e) = std::io::stdout().lock().write_fmt(args) {
        std::process::exit(if e.kind() == std::io::ErrorKind::BrokenPipe {
            0
        } else {
            1
        });
    }
}

mod bench_curve;
mod cluster_run;
mod compare;
mod control_plane;
mod diff;
mod headroom;
mod scaling_latency;
mod slo_gate;
mod snapshot;
mod tune;

/// The allocator: mimalloc, as the run allocates and frees many small strings and vectors
/// (events, objects, decisions); addresses never reach the outputs. The `system-alloc`
/// feature keeps the system allocator, for heap profilers that hook malloc.
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Command-line interface.
#[derive(Parser, Debug)]
#[command(
    name = "kscale",
    version,
    about = "Simulate Kubernetes autoscaling from your manifests, deterministically and faster than real time."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `kscale run --compress`: see [`kscale_report::Compression`].
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Compress {
    /// Compress a file once it passes 64 MiB.
    Auto,
    /// Compress every data file.
    Always,
    /// Compress nothing.
    Never,
}

impl From<Compress> for kscale_report::Compression {
    fn from(c: Compress) -> Self {
        match c {
            Compress::Auto => kscale_report::Compression::Auto,
            Compress::Always => kscale_report::Compression::Always,
            Compress::Never => kscale_report::Compression::Never,
        }
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a scenario on the digital twin (default) or, with --cluster, on a real Kubernetes
    /// control plane in real time, and write the run directory.
    Run {
        /// The scenario file (kind: Scenario, apiVersion: kscale.io/v1alpha1).
        scenario: PathBuf,
        /// Output directory (default: kscale-out/<scenario name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
        /// Run on a real control plane (started by kscale unless --kubeconfig names one).
        #[arg(long)]
        cluster: bool,
        /// With --cluster: use this cluster instead of starting a control plane.
        #[arg(long, requires = "cluster")]
        kubeconfig: Option<PathBuf>,
        /// With --kubeconfig: run even though the cluster holds nodes kscale did not create.
        #[arg(long, requires = "kubeconfig")]
        allow_existing_nodes: bool,
        /// Replace the output directory even if kscale did not make it (no `.kscale-run`
        /// marker): whatever it holds is deleted.
        #[arg(long)]
        force: bool,
        /// Gate on the scenario's SLOs (`spec.slos`): exit 3 when any failed (0 when all
        /// passed; 2 bad input and 1 other errors as always).
        #[arg(long)]
        check: bool,
        /// Write the SLOs' results as JUnit XML to this file (one test case per SLO).
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Run with this seed instead of the scenario's `spec.seed` (twin only).
        #[arg(long, conflicts_with = "cluster")]
        seed: Option<u64>,
        /// Change a field before the run (repeatable; twin only): `spec.PATH=VALUE` in the
        /// scenario (`spec.duration=30m`, `spec.load[0].requestsPerSecond.constant=50`) or
        /// `[NAMESPACE/]KIND/NAME:PATH=VALUE` in a manifest object
        /// (`hpa/web:spec.maxReplicas=20`); VALUE is read as YAML.
        #[arg(long = "set", value_name = "PATH=VALUE", conflicts_with = "cluster")]
        sets: Vec<String>,
        /// Write where the run's wall time went and its peak memory to this file as JSON
        /// (`wallSeconds`, `loadSeconds`, `simulateSeconds`, `writeSeconds`,
        /// `peakMemoryBytes`; twin only): what `kscale bench-curve` reads.
        #[arg(long, value_name = "FILE", conflicts_with = "cluster")]
        timings: Option<PathBuf>,
        /// When events.jsonl, transcript.jsonl and timeseries.csv are written gzip-compressed
        /// as NAME.gz: `auto` once a file passes 64 MiB (a day of a 1,000-node cluster), or
        /// `always`, or `never`. kscale's commands, DuckDB, pandas and Polars read either.
        #[arg(long, value_enum, default_value_t = Compress::Auto)]
        compress: Compress,
    },
    /// Sweep the replicas of an over-provisioning (pause-pod) Deployment and report, side by
    /// side, the start-up latency of the protected workload and the cost per day.
    Headroom {
        /// The scenario file.
        scenario: PathBuf,
        /// The over-provisioning Deployment: `deployment/NAME` or `NAMESPACE/deployment/NAME`.
        #[arg(long, conflicts_with = "buffer", required_unless_present = "buffer")]
        pause: Option<String>,
        /// Or a CapacityBuffer to sweep instead: `capacitybuffer/NAME` or
        /// `NAMESPACE/capacitybuffer/NAME`.
        #[arg(long)]
        buffer: Option<String>,
        /// The protected workload: `deployment/NAME` or `NAMESPACE/deployment/NAME`.
        #[arg(long)]
        workload: String,
        /// Replica counts to try, comma-separated (default 0,1,2,3,4).
        #[arg(long, value_delimiter = ',', default_value = "0,1,2,3,4")]
        replicas: Vec<i64>,
        /// Start-up latency target for the p99 (Go duration, default 10s).
        #[arg(long, default_value = "10s")]
        max_p99: String,
        /// Also require at most this much SLO violation time (Go duration) of the workload's
        /// load entries (their `slo`) for the cheapest setting.
        #[arg(long)]
        max_slo_violation: Option<String>,
        /// Count pods created from this time on (default: the first kubectl step).
        #[arg(long)]
        from: Option<String>,
        /// Output directory (default: kscale-out/<scenario name>-headroom).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Find the cheapest values of some manifest fields (HPA targets, min/max replicas, ...)
    /// that meet every SLO of the scenario (`spec.slos`), by running every configuration of a
    /// tuning file (kind: Tuning) in parallel.
    ///
    /// Prints a ranked table and the recommendation; writes tune.json, recommended/ (the
    /// changed objects as YAML) and recommended.diff to --out. Exit codes: 0 a configuration
    /// passes, 3 none passes, 2 bad input, 1 other errors.
    ///
    /// Scale-out: `--shard I/N` runs every N-th configuration and writes
    /// shard-I-of-N.json; `kscale tune merge DIR...` combines the shards into the tune.json one
    /// machine writes.
    #[command(args_conflicts_with_subcommands = true)]
    Tune {
        #[command(subcommand)]
        action: Option<TuneAction>,
        /// The scenario file (with spec.slos).
        scenario: Option<PathBuf>,
        /// The tuning file: the knobs and their values.
        #[arg(long, value_name = "FILE")]
        tuning: Option<PathBuf>,
        /// Output directory (default: kscale-out/tune-<tuning name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Evaluate a deterministic share: configurations c with c % N == I (`I/N`; or `N`
        /// with I from JOB_COMPLETION_INDEX, as a Kubernetes Indexed Job sets it); writes
        /// shard-I-of-N.json to --out.
        #[arg(long, value_name = "I/N")]
        shard: Option<String>,
        /// Instead of searching, write job.yaml: a Kubernetes Indexed Job of N shards (each
        /// pod prints its shard) and the ConfigMap of the search's inputs.
        #[arg(long, value_name = "N", conflicts_with = "shard")]
        emit_job: Option<usize>,
        /// With --emit-job: the container image holding the kscale binary.
        #[arg(long, default_value = "kscale:latest", requires = "emit_job")]
        image: String,
    },
    /// Measure the time to add 1..N instances as new pods (ReplicaSet) and as container
    /// replicas inside a running pod (Elastic Pods), over many seeded runs: seed 000's Figure 8.
    ScalingLatency {
        /// The scenario file (holding the Deployment and the elastic pod).
        scenario: PathBuf,
        /// The Deployment scaled for the ReplicaSet path.
        #[arg(long, default_value = "deployment/replicaset-app")]
        deployment: String,
        /// The pod whose container replicas grow for the elastic path.
        #[arg(long, default_value = "pod/elastic-app")]
        pod: String,
        /// The elastic container of that pod.
        #[arg(long, default_value = "app")]
        container: String,
        /// Largest number of instances added (N = 1..max).
        #[arg(long, default_value_t = 10)]
        max: u32,
        /// Runs per (method, N), each with its own seed (scenario seed + run).
        #[arg(long, default_value_t = 30)]
        runs: u32,
        /// When the scaling step runs (after the warm-up).
        #[arg(long, default_value = "1m")]
        at: String,
        /// Output directory (default: kscale-out/<scenario name>-scaling-latency).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write the scale benchmark scenario (HPA-autoscaled Deployments on a diurnal trace,
    /// Karpenter m5.4xlarge nodes): run it with `kscale run DIR/scenario.yaml`.
    BenchScenario {
        /// Nodes the daily peak needs (300 Deployments and 30,000 pods at 1000); `--nodes N`
        /// is the same flag.
        #[arg(long, visible_alias = "nodes", default_value_t = 1000)]
        peak_nodes: u32,
        /// Simulated duration (Go duration).
        #[arg(long, default_value = "24h")]
        duration: String,
        /// Directory to write scenario.yaml, manifests.yaml and trace.csv into.
        #[arg(long)]
        out: PathBuf,
        /// The node autoscaler: a Karpenter NodePool, or the Cluster Autoscaler over one node
        /// group of the same nodes.
        #[arg(long, default_value = "karpenter", value_parser = kscale_twin::bench::NodeAutoscaler::NAMES)]
        autoscaler: String,
    },
    /// Measure the twin's scaling curve: run the scale benchmark at each size (a child process
    /// each) and print wall time, write share, peak memory, events per second and the cost per
    /// decision as a Markdown table, optionally written into a file (`--doc
    /// docs/performance.md`) between marker lines that the next run replaces.
    BenchCurve {
        /// Peak node counts, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "100,300,1000,3000,10000")]
        nodes: Vec<u32>,
        /// Simulated duration of each run (Go duration).
        #[arg(long, default_value = "24h")]
        duration: String,
        /// Keep the scenarios and run directories in this folder (default: a temporary folder,
        /// removed at the end).
        #[arg(long)]
        work: Option<PathBuf>,
        /// Markdown file to write the curve into (its previous curve is replaced).
        #[arg(long)]
        doc: Option<PathBuf>,
        /// The benchmark's node autoscaler (as `bench-scenario --autoscaler`).
        #[arg(long, default_value = "karpenter", value_parser = kscale_twin::bench::NodeAutoscaler::NAMES)]
        autoscaler: String,
    },
    /// Build, start and stop the real Kubernetes control plane (kube-apiserver, etcd,
    /// kube-controller-manager, kube-scheduler) that `--cluster` runs use, on loopback.
    #[command(subcommand)]
    ControlPlane(control_plane::Action),
    /// Compare two run directories (twin or --cluster, before and after a change): timelines,
    /// autoscaling decisions, events by reason and kubectl steps, within a time tolerance.
    ///
    /// Prints a table and writes diff.json and report.html to --out (default:
    /// kscale-out/diff-<name of RUN_A>-vs-<name of RUN_B>). Exit codes: 0 equal within the
    /// tolerance, 1 different, 2 bad input (not a run directory, a malformed file, a bad flag).
    Diff {
        /// The first run directory (A).
        run_a: PathBuf,
        /// The second run directory (B).
        run_b: PathBuf,
        /// Largest time offset (Go duration) at which samples, decisions and steps still match.
        #[arg(long, default_value = "15s")]
        time_tolerance: String,
        /// Relative tolerance of measured values (`107%`, `102539Ki`, `535m`) in kubectl
        /// outputs.
        #[arg(long, default_value = "2%")]
        value_tolerance: String,
        /// Output directory (default: kscale-out/diff-<name of RUN_A>-vs-<name of RUN_B>).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a scenario, its manifests, traces and steps without running it.
    Validate {
        /// The scenario file.
        scenario: PathBuf,
    },
    /// Read a real cluster (nodes, workloads, their autoscalers) and, with --prometheus, its
    /// load, into a scenario folder `kscale run` accepts: scenario.yaml, manifests/, traces/
    /// and snapshot.txt (what was taken and skipped). Never reads Secrets.
    ///
    /// Exit codes: 0 written, 1 the cluster or Prometheus failed, 2 bad input.
    Snapshot(snapshot::Options),
    /// Load traces.
    #[command(subcommand)]
    Trace(TraceAction),
    /// Put runs side by side: their verdicts (SLOs, requests lost, OOM kills, cost, ...) as
    /// one table, and their time series overlaid in one report.html.
    ///
    /// Writes compare.json and report.html to --out (default:
    /// kscale-out/compare-<run>-vs-<run>). Exit codes: 0 written, 2 bad input.
    Compare {
        /// Two or more run directories.
        #[arg(required = true, num_args = 2..)]
        runs: Vec<PathBuf>,
        /// Output directory.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Export a run directory's outputs for other tools.
    #[command(subcommand)]
    Export(ExportAction),
    /// Print a shell completion script: `kscale completions bash > /etc/bash_completion.d/kscale`
    /// (also zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the JSON Schema of the Scenario format (for editors: the examples point the
    /// yaml-language-server at `schema/scenario.schema.json`, which this command writes).
    Schema,
}

/// `kscale tune` subcommands.
#[derive(Subcommand, Debug)]
enum TuneAction {
    /// Combine the shards of one search (`kscale tune --shard I/N`) into the result one
    /// machine would write: the same table, tune.json and recommendation.
    Merge {
        /// Shard files, or directories holding shard-*.json.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// The scenario (default: the path recorded in the shards).
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// The tuning file (default: the path recorded in the shards).
        #[arg(long, value_name = "FILE")]
        tuning: Option<PathBuf>,
        /// Output directory (default: kscale-out/tune-<tuning name>).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// `kscale export` subcommands.
#[derive(Subcommand, Debug)]
enum ExportAction {
    /// The run's time series (timeseries.csv) in the OpenMetrics text format with
    /// timestamps, for `promtool tsdb create-blocks-from openmetrics FILE DIR` (then Prometheus
    /// and the Grafana dashboard in deploy/grafana-dashboard.json chart the run).
    Openmetrics {
        /// The run directory.
        run_dir: PathBuf,
        /// Write here (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Wall-clock time of t = 0 (RFC 3339; default: the scenario's spec.startTime
        /// default, 2026-01-01T00:00:00Z). Prometheus drops samples older than its retention
        /// (15 days by default): pass a recent time to look at a run there.
        #[arg(long)]
        start: Option<String>,
    },
    /// The run's time series (timeseries.csv) as Parquet in long form, for DuckDB, pandas,
    /// Polars: one row per non-empty cell with the columns time (seconds since the start),
    /// timestamp (UTC), series (the metric, e.g. ready), object (e.g.
    /// deployment/default/web; empty for cluster-wide series), labels (a JSON object),
    /// column (the CSV column) and value. Snappy-compressed, string columns
    /// dictionary-encoded. Exit codes: 2 when RUN_DIR is not a run or its timeseries.csv is
    /// malformed, 1 when writing fails.
    #[command(
        after_help = "Example:\n  kscale export parquet kscale-out/quickstart\n  \
        duckdb -c \"SELECT object, max(value) FROM 'kscale-out/quickstart/timeseries.parquet' \
        WHERE series = 'ready' GROUP BY object\""
    )]
    Parquet {
        /// The run directory.
        run_dir: PathBuf,
        /// Write here (default: RUN_DIR/timeseries.parquet). Written under a temporary name
        /// next to it and renamed into place when complete.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Wall-clock time of t = 0 for the timestamp column (RFC 3339; default the
        /// scenario's spec.startTime default, 2026-01-01T00:00:00Z: summary.json does not
        /// record a scenario's own spec.startTime).
        #[arg(long)]
        start: Option<String>,
    },
}

/// `kscale trace` subcommands.
#[derive(Subcommand, Debug)]
enum TraceAction {
    /// Convert a saved Prometheus range-query response (the JSON of /api/v1/query_range) into
    /// a trace CSV (`time,value`: the sum of its series), for a load entry's `trace`.
    FromPrometheus {
        /// The saved response.
        file: PathBuf,
        /// Write the CSV here (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    // The simulation runs on a pool worker (`in_pool`): give the workers the main thread's
    // stack size (8 MiB; rayon's default is 2 MiB). Fails only if the pool already exists.
    let _ = rayon::ThreadPoolBuilder::new()
        .stack_size(8 << 20)
        .build_global();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    // Ctrl-C or SIGTERM: a staged output being written is removed before the process exits
    // (130, as a shell reports SIGINT). `--cluster` runs and `kscale control-plane` install
    // their own handler (they stop what they started) instead.
    let stops_processes = matches!(
        &cli.command,
        Command::Run { cluster: true, .. } | Command::ControlPlane { .. }
    );
    if !stops_processes {
        let _ = ctrlc::set_handler(|| {
            kscale_report::remove_live_staging();
            std::process::exit(130);
        });
    }
    match cli.command {
        Command::Headroom {
            scenario,
            pause,
            buffer,
            workload,
            replicas,
            max_p99,
            max_slo_violation,
            from,
            out,
        } => headroom::run(headroom::Options {
            scenario: &scenario,
            pause: pause.as_deref(),
            buffer: buffer.as_deref(),
            workload: &workload,
            replicas: &replicas,
            max_p99: &max_p99,
            max_slo_violation: max_slo_violation.as_deref(),
            from: from.as_deref(),
            out,
        }),
        Command::Tune {
            action:
                Some(TuneAction::Merge {
                    inputs,
                    scenario,
                    tuning,
                    out,
                }),
            ..
        } => tune::merge(tune::MergeOptions {
            inputs,
            scenario,
            tuning,
            out,
        }),
        Command::Tune {
            action: None,
            scenario,
            tuning,
            out,
            shard,
            emit_job,
            image,
        } => {
            let (Some(scenario), Some(tuning)) = (scenario, tuning) else {
                eprintln!(
                    "error: kscale tune needs SCENARIO and --tuning FILE (or: kscale tune merge DIR...)"
                );
                return ExitCode::from(2);
            };
            tune::run(tune::Options {
                scenario: &scenario,
                tuning: &tuning,
                out,
                shard,
                emit_job,
                image,
            })
        }
        Command::Run {
            scenario,
            out,
            quiet,
            cluster,
            kubeconfig,
            allow_existing_nodes,
            force,
            check,
            junit,
            seed,
            sets,
            timings,
            compress,
        } => {
            let write = kscale_report::WriteOptions {
                force,
                compression: compress.into(),
                ..Default::default()
            };
            let mut overrides = kscale_twin::run::RunOverrides {
                seed,
                ..Default::default()
            };
            for s in &sets {
                if let Err(e) = kscale_twin::run::parse_set(s, &mut overrides) {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            }
            if cluster && (check || junit.is_some()) {
                eprintln!("error: --check and --junit are not available with --cluster yet");
                return ExitCode::from(2);
            }
            if cluster {
                cluster_run::run(cluster_run::Options {
                    scenario: &scenario,
                    out,
                    kubeconfig,
                    allow_existing_nodes,
                    quiet,
                    write,
                })
            } else {
                run(
                    &scenario,
                    out,
                    quiet,
                    write,
                    RunFlags {
                        check,
                        junit,
                        timings,
                    },
                    &overrides,
                )
            }
        }
        Command::ScalingLatency {
            scenario,
            deployment,
            pod,
            container,
            max,
            runs,
            at,
            out,
        } => scaling_latency::run(scaling_latency::Options {
            scenario: &scenario,
            deployment: &deployment,
            pod: &pod,
            container: &container,
            max,
            runs,
            at: &at,
            out,
        }),
        Command::BenchScenario {
            peak_nodes,
            duration,
            out,
            autoscaler,
        } => bench_scenario(peak_nodes, duration, node_autoscaler(&autoscaler), &out),
        Command::BenchCurve {
            nodes,
            duration,
            work,
            doc,
            autoscaler,
        } => bench_curve::run(bench_curve::Options {
            nodes,
            duration,
            autoscaler: node_autoscaler(&autoscaler),
            work,
            doc,
        }),
        Command::ControlPlane(action) => control_plane::run(action),
        Command::Diff {
            run_a,
            run_b,
            time_tolerance,
            value_tolerance,
            out,
        } => diff::run(diff::Options {
            run_a: &run_a,
            run_b: &run_b,
            time_tolerance: &time_tolerance,
            value_tolerance: &value_tolerance,
            out,
        }),
        Command::Snapshot(o) => snapshot::run(o),
        Command::Trace(TraceAction::FromPrometheus { file, out }) => {
            snapshot::trace_from_prometheus(&file, out.as_deref())
        }
        Command::Compare { runs, out } => compare::run(compare::Options { runs, out }),
        Command::Export(ExportAction::Openmetrics {
            run_dir,
            out,
            start,
        }) => export_openmetrics(&run_dir, out.as_deref(), start.as_deref()),
        Command::Export(ExportAction::Parquet {
            run_dir,
            out,
            start,
        }) => export_parquet(&run_dir, out.as_deref(), start.as_deref()),
        Command::Completions { shell } => {
            use clap::CommandFactory as _;
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "kscale", &mut script);
            print!("{}", String::from_utf8_lossy(&script));
            ExitCode::SUCCESS
        }
        Command::Schema => {
            println!("{}", kscale_twin::scenario::json_schema());
            ExitCode::SUCCESS
        }
        Command::Validate { scenario } => match kscale_twin::run::validate_scenario(&scenario) {
            Ok(warnings) => {
                for w in warnings {
                    eprintln!("warning: {w}");
                }
                println!("{}: ok", scenario.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
    }
}

/// Splits a `--flag` value `KIND/NAME` or `NAMESPACE/KIND/NAME` into (namespace, name),
/// checking that KIND is one of `kinds` (the first is the one named in the error).
pub(crate) fn object_ref(s: &str, kinds: &[&str], flag: &str) -> Result<(String, String), String> {
    let parts: Vec<&str> = s.split('/').collect();
    let (ns, kind, name) = match parts.as_slice() {
        [k, n] => ("default", *k, *n),
        [ns, k, n] => (*ns, *k, *n),
        _ => ("", "", ""),
    };
    if !kinds.contains(&kind) || name.is_empty() || ns.is_empty() {
        return Err(format!(
            "--{flag} {s:?}: expected {k}/NAME or NAMESPACE/{k}/NAME",
            k = kinds[0]
        ));
    }
    Ok((ns.to_string(), name.to_string()))
}

/// Events handed from the simulation to the writer thread at a time.
const EVENT_BATCH: usize = 4096;

/// Runs `f` on a worker of rayon's global pool, so that the simulation's parallel parts
/// (the HPA preparation) share the work with the thread that runs the simulation instead of
/// blocking it while the pool's workers do it: on two cores, one thread fewer competes.
fn in_pool(f: impl FnOnce() + Send) {
    rayon::scope(|_| f());
}

/// `kscale run`'s [`kscale_twin::sim::event_stream::RunSink`]: events and time-series rows go
/// to the run directory's writer as the run goes on (neither is kept whole in memory).
struct WriterSink<'a> {
    writer: &'a mut kscale_report::RunWriter,
    /// The writer's first error (the run stopped there).
    failed: Option<kscale_report::ReportError>,
}

impl kscale_twin::sim::event_stream::RunSink for WriterSink<'_> {
    fn events(
        &mut self,
        batch: Vec<kscale_report::EventRecord>,
    ) -> ControlFlow<(), Vec<kscale_report::EventRecord>> {
        match self.writer.events(batch) {
            Ok(spare) => ControlFlow::Continue(spare),
            Err(e) => {
                self.failed = Some(e);
                ControlFlow::Break(())
            }
        }
    }

    fn takes_samples(&self) -> bool {
        true
    }

    fn samples(&mut self, rows: Vec<Vec<f64>>) -> ControlFlow<()> {
        match self.writer.samples(&rows) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                self.failed = Some(e);
                ControlFlow::Break(())
            }
        }
    }
}

/// What `kscale run` does with the SLOs' results.
#[derive(Default)]
struct RunFlags {
    /// `--check`: exit 3 when one failed.
    check: bool,
    /// `--junit FILE`.
    junit: Option<PathBuf>,
    /// `--timings FILE`: the phases' wall time and the peak memory as JSON.
    timings: Option<PathBuf>,
}

fn run(
    scenario: &Path,
    out: Option<PathBuf>,
    quiet: bool,
    write: kscale_report::WriteOptions,
    gate: RunFlags,
    overrides: &kscale_twin::run::RunOverrides,
) -> ExitCode {
    let started = std::time::Instant::now();
    let mut sim = match kscale_twin::run::load_scenario_with(scenario, overrides) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    for w in &sim.warnings {
        eprintln!("warning: {w}");
    }
    let dir = out.unwrap_or_else(|| PathBuf::from("kscale-out").join(sim.scenario.name()));
    // events.jsonl is written on a thread of its own while the simulation runs.
    let mut writer = match kscale_report::RunWriter::start_with(&dir, write) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let loaded = started.elapsed();
    let mut sink = WriterSink {
        writer: &mut writer,
        failed: None,
    };
    in_pool(|| {
        let _ = sim.run_streaming(EVENT_BATCH, &mut sink);
    });
    if let Some(e) = sink.failed {
        eprintln!("error: {e}");
        return ExitCode::from(1);
    }
    let simulated = started.elapsed();
    // The rows still held follow those handed over; then the output's column order.
    if let Err(e) = writer.samples(&sim.drain_samples()) {
        eprintln!("error: {e}");
        return ExitCode::from(1);
    }
    let order = sim.sample_column_order();
    let mut output = sim.into_output();
    if let Err(e) = writer.finish_spilled(&mut output, &order) {
        eprintln!("error: {e}");
        return ExitCode::from(1);
    }
    let phases = Phases {
        load: loaded,
        simulate: simulated - loaded,
        write: started.elapsed() - simulated,
    };
    if let Some(path) = &gate.timings
        && let Err(e) = phases.write_json(path)
    {
        eprintln!("error: writing {}: {e}", path.display());
        return ExitCode::from(1);
    }
    if !quiet {
        print_summary(&output, &dir, phases);
    }
    if let Some(path) = &gate.junit
        && let Err(e) = slo_gate::write_junit(path, &output.name, &output.summary)
    {
        eprintln!("error: writing {}: {e}", path.display());
        return ExitCode::from(1);
    }
    let passed = slo_gate::all_pass(&output.summary);
    if gate.check && !quiet && slo_gate::objectives(&output.summary).is_empty() {
        eprintln!("warning: --check: the scenario has no spec.slos, nothing to check");
    }
    // The process ends now: freeing the outputs (the time series and the rest of the run's
    // state) is left to the operating system.
    std::mem::forget(output);
    if gate.check && !passed {
        return ExitCode::from(slo_gate::EXIT_SLO_FAILED);
    }
    ExitCode::SUCCESS
}

/// The node autoscaler a `--autoscaler` value names (clap has checked it is one).
fn node_autoscaler(name: &str) -> kscale_twin::bench::NodeAutoscaler {
    kscale_twin::bench::NodeAutoscaler::from_name(name).unwrap_or_default()
}

fn bench_scenario(
    peak_nodes: u32,
    duration: String,
    autoscaler: kscale_twin::bench::NodeAutoscaler,
    out: &Path,
) -> ExitCode {
    match write_bench_scenario(peak_nodes, &duration, autoscaler, out) {
        Ok(()) => {
            println!("{}", out.join("scenario.yaml").display());
            ExitCode::SUCCESS
        }
        Err((code, message)) => {
            eprintln!("error: {message}");
            ExitCode::from(code)
        }
    }
}

/// Writes the scale benchmark (`bench-scenario`) of `peak_nodes` over `duration` into `out`;
/// on failure, the exit code (2 bad input, 1 a folder that cannot be written) and the message.
fn write_bench_scenario(
    peak_nodes: u32,
    duration: &str,
    autoscaler: kscale_twin::bench::NodeAutoscaler,
    out: &Path,
) -> Result<(), (u8, String)> {
    if peak_nodes == 0 {
        return Err((2, "--peak-nodes must be at least 1".into()));
    }
    if u64::from(peak_nodes) > kscale_twin::scenario::MAX_NODES {
        return Err((
            2,
            format!(
                "--peak-nodes {peak_nodes}: the limit is {} nodes (what this machine can simulate)",
                kscale_twin::scenario::MAX_NODES
            ),
        ));
    }
    if let Err(e) = kscale_model::parse_duration(duration) {
        return Err((2, format!("--duration {duration:?}: {e}")));
    }
    let params = kscale_twin::bench::BenchParams {
        peak_nodes,
        duration: duration.to_string(),
        autoscaler,
    };
    let files = kscale_twin::bench::files(&params);
    // The scenario written must be one kscale runs: load it from a scratch folder first
    // (a zero duration, or one with more samples than a run may take, is refused here).
    let scratch = std::env::temp_dir().join(format!(".kscale-bench-{}", std::process::id()));
    let checked = std::fs::create_dir_all(&scratch)
        .and_then(|_| {
            files
                .iter()
                .try_for_each(|(name, text)| std::fs::write(scratch.join(name), text))
        })
        .map_err(|e| e.to_string())
        .and_then(|_| {
            kscale_twin::scenario::Scenario::load(&scratch.join("scenario.yaml"))
                .map(|_| ())
                .map_err(|e| e.message)
        });
    let _ = std::fs::remove_dir_all(&scratch);
    if let Err(e) = checked {
        return Err((
            2,
            format!("--duration {duration:?} / --peak-nodes {peak_nodes}: {e}"),
        ));
    }
    for (name, text) in files {
        let path = out.join(name);
        if let Err(e) = std::fs::create_dir_all(out).and_then(|_| std::fs::write(&path, text)) {
            return Err((1, format!("cannot write {}: {e}", path.display())));
        }
    }
    Ok(())
}

/// Peak resident memory of this process (`VmHWM` in /proc/self/status), in bytes, where the
/// platform reports it.
fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Where a run's wall time went: reading the scenario and building the twin, the simulation
/// (events.jsonl is written beside it), and writing the remaining files and the report.
struct Phases {
    load: std::time::Duration,
    simulate: std::time::Duration,
    write: std::time::Duration,
}

impl Phases {
    /// `run --timings FILE`: the phases, their sum and the peak memory so far, as JSON.
    fn write_json(&self, path: &Path) -> std::io::Result<()> {
        let wall = self.load + self.simulate + self.write;
        let json = serde_json::json!({
            "wallSeconds": wall.as_secs_f64(),
            "loadSeconds": self.load.as_secs_f64(),
            "simulateSeconds": self.simulate.as_secs_f64(),
            "writeSeconds": self.write.as_secs_f64(),
            "peakMemoryBytes": peak_memory_bytes(),
        });
        std::fs::write(path, format!("{json:#}\n"))
    }
}

fn print_summary(out: &kscale_report::RunOutput, dir: &Path, phases: Phases) {
    let wall = phases.load + phases.simulate + phases.write;
    let s = &out.summary;
    // Numbers as the JSON holds them, integral ones without a fraction (`4`, not `4.0`).
    let g = |p: &str| match s.pointer(p) {
        Some(serde_json::Value::Number(n)) => n
            .as_f64()
            .map(kscale_report::format_number)
            .unwrap_or_else(|| n.to_string()),
        Some(v) => v.to_string(),
        None => "-".into(),
    };
    let pods_at_end = s
        .pointer("/pods/final")
        .and_then(serde_json::Value::as_object)
        .map(|m| {
            let parts: Vec<String> = m
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{k} {}",
                        v.as_f64()
                            .map_or_else(|| v.to_string(), kscale_report::format_number)
                    )
                })
                .collect();
            if parts.is_empty() {
                "none".into()
            } else {
                parts.join(", ")
            }
        })
        .unwrap_or_else(|| "-".into());
    let verdict = kscale_report::verdict(s);
    println!("{}: {}", out.name, verdict.headline);
    let lead: Vec<(String, String)> = verdict
        .facts
        .iter()
        .filter(|f| f.label != "SLOs")
        .map(|f| (f.label.to_string(), f.text.clone()))
        .chain(slo_gate::lines(s))
        .collect();
    let rows = [
        ("simulated", format!("{} s", g("/durationSeconds"))),
        (
            "nodes (final / max)",
            format!("{} / {}", g("/nodes/final"), g("/nodes/max")),
        ),
        (
            "pods created / scheduled",
            format!("{} / {}", g("/pods/created"), g("/pods/scheduled")),
        ),
        ("pods at end", pods_at_end),
        ("max pending pods", g("/pods/maxPending")),
        (
            "kubectl steps (failed)",
            format!("{} ({})", g("/steps/total"), g("/steps/failed")),
        ),
        ("events", g("/events/total")),
        ("wall time", format!("{:.3} s", wall.as_secs_f64())),
        (
            "  load / simulate / write",
            format!(
                "{:.3} / {:.3} / {:.3} s",
                phases.load.as_secs_f64(),
                phases.simulate.as_secs_f64(),
                phases.write.as_secs_f64()
            ),
        ),
        (
            "peak memory",
            peak_memory_bytes()
                .map(|b| format!("{:.0} MiB", b as f64 / (1u64 << 20) as f64))
                .unwrap_or_else(|| "-".into()),
        ),
        ("output", dir.display().to_string()),
    ];
    let rest: Vec<(String, String)> = rows.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    let w = lead
        .iter()
        .chain(&rest)
        .map(|r| r.0.len())
        .max()
        .unwrap_or(0);
    for (k, v) in &lead {
        println!("  {k:<w$}  {v}");
    }
    println!();
    for (k, v) in &rest {
        println!("  {k:<w$}  {v}");
    }
}

/// The Unix milliseconds of an export's `--start` (default the twin's default t = 0,
/// 2026-01-01T00:00:00Z); an error message for a value that is not an RFC 3339 time.
fn export_start_ms(start: Option<&str>) -> Result<i64, String> {
    match start {
        None => Ok(1_767_225_600_000),
        Some(s) => s
            .parse::<jiff::Timestamp>()
            .map(|t| t.as_millisecond())
            .map_err(|e| format!("--start {s:?}: not an RFC 3339 time ({e})")),
    }
}

/// `kscale export parquet`.
fn export_parquet(run_dir: &Path, out: Option<&Path>, start: Option<&str>) -> ExitCode {
    let start_ms = match export_start_ms(start) {
        Ok(ms) => ms,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match kscale_report::export_timeseries_parquet(run_dir, out, start_ms) {
        Ok((path, stats)) => {
            eprintln!(
                "wrote {} ({} rows, {} row group{})",
                path.display(),
                stats.rows,
                stats.row_groups,
                if stats.row_groups == 1 { "" } else { "s" }
            );
            ExitCode::SUCCESS
        }
        Err(kscale_report::ParquetExportError::Input(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(kscale_report::ParquetExportError::Write(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// `kscale export openmetrics`.
fn export_openmetrics(run_dir: &Path, out: Option<&Path>, start: Option<&str>) -> ExitCode {
    let start_ms = match export_start_ms(start) {
        Ok(ms) => ms,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let (file, text) = match kscale_report::read_output(run_dir, "timeseries.csv") {
        Ok(read) => read,
        Err(e) => {
            eprintln!(
                "error: {}: cannot read {} ({e}): not a run directory?",
                run_dir.display(),
                run_dir.join("timeseries.csv").display()
            );
            return ExitCode::from(2);
        }
    };
    let om = match kscale_report::timeseries_to_openmetrics(&text, start_ms) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    match out {
        Some(p) => {
            if let Err(e) = std::fs::write(p, om) {
                eprintln!("error: writing {}: {e}", p.display());
                return ExitCode::from(1);
            }
        }
        None => print!("{om}"),
    }
    ExitCode::SUCCESS
}
