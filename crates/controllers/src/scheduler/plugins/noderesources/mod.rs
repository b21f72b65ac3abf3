//! NodeResources plugins (`pkg/scheduler/framework/plugins/noderesources/`): the Fit filter,
//! its LeastAllocated scoring strategy, and BalancedAllocation.

mod balanced_allocation;
mod fit;
mod least_allocated;

pub use balanced_allocation::balanced_allocation_score;
pub use fit::InsufficientResources;
pub(crate) use fit::{
    MSG_INSUFFICIENT_CPU, MSG_INSUFFICIENT_MEMORY, MSG_TOO_MANY_PODS, filter_resources,
};
pub use least_allocated::least_allocated_score;
