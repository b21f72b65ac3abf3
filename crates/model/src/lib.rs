//! IO-free core types shared by every kscale crate.
//!
//! - [`quantity`]: Kubernetes resource quantities parsed exactly as the API server does.
//! - [`duration`]: Go-style durations (`90s`, `1h30m`) as used in scenarios and flags.
//! - [`goflag`]: Go program command lines as spf13/pflag parses them, `strconv.ParseBool`.
//! - [`time`]: virtual time ([`SimTime`]) in integer milliseconds.
//! - [`resources`]: CPU / memory / pod-count vectors in integer units.
//! - [`labels`]: label selectors, node selectors, taints and tolerations.

pub mod duration;
pub mod goflag;
pub mod images;
pub mod labels;
pub mod metrics_api;
pub mod quantity;
pub mod resources;
pub mod stats;
pub mod time;

pub use duration::parse_duration;
pub use labels::{
    LabelSelector, NodeSelectorRequirement, NodeSelectorTerm, SelectorOp, Taint, TaintEffect,
    Toleration, TolerationOp,
};
pub use quantity::{Quantity, QuantityError};
pub use resources::Resources;
pub use time::SimTime;
