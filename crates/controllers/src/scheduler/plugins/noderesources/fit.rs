//! NodeResourcesFit filter (`pkg/scheduler/framework/plugins/noderesources/fit.go`).

use kscale_model::Resources;

use crate::scheduler::diagnosis::Unfit;

/// Which resources `NodeResourcesFit` found insufficient (upstream `InsufficientResource` list).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InsufficientResources {
    /// `Too many pods`: the node already holds `allocatable.pods` pods.
    pub pods: bool,
    /// `Insufficient cpu`.
    pub cpu: bool,
    /// `Insufficient memory`.
    pub memory: bool,
    /// The pod's cpu or memory request alone exceeds the node's allocatable, so removing pods
    /// cannot help (upstream status `UnschedulableAndUnresolvable`).
    pub unresolvable: bool,
}

/// Reasons of `fitsRequest`.
pub(crate) const MSG_TOO_MANY_PODS: &str = "Too many pods";
pub(crate) const MSG_INSUFFICIENT_CPU: &str = "Insufficient cpu";
pub(crate) const MSG_INSUFFICIENT_MEMORY: &str = "Insufficient memory";

/// NodeResourcesFit filter (`fitsRequest` in plugins/noderesources/fit.go) given what is already
/// in use on the node (`used.pods` = number of pods).
pub(crate) fn filter_resources(
    req: &Resources,
    used: &Resources,
    alloc: &Resources,
) -> Result<(), Unfit> {
    let mut r = InsufficientResources::default();
    if used.pods + 1 > alloc.pods {
        r.pods = true;
    }
    if req.cpu_milli != 0 || req.memory != 0 {
        if req.cpu_milli > 0 && req.cpu_milli > alloc.cpu_milli - used.cpu_milli {
            r.cpu = true;
            r.unresolvable |= req.cpu_milli > alloc.cpu_milli;
        }
        if req.memory > 0 && req.memory > alloc.memory - used.memory {
            r.memory = true;
            r.unresolvable |= req.memory > alloc.memory;
        }
    }
    if r.pods || r.cpu || r.memory {
        Err(Unfit::Resources(r))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::testing::*;
    use crate::scheduler::*;

    // ---- noderesources/fit_test.go ----------------------------------------------------------

    // TestEnoughRequests: node allocatable cpu 10m, memory 20, pods 32.
    #[test]
    fn fit_enough_requests() {
        let n = |used: (i64, i64)| with_pods(node("n", (10, 20), 32), vec![pod(1, 0, used)]);
        // "no resources requested always fits"
        assert_eq!(fits(&pod(100, 0, (0, 0)), &n((10, 20))), Ok(()));
        // "too many resources fails"
        let e = fits(&pod(100, 0, (1, 1)), &n((10, 20))).unwrap_err();
        assert_eq!(
            e,
            Unfit::Resources(InsufficientResources {
                pods: false,
                cpu: true,
                memory: true,
                unresolvable: false
            })
        );
        assert!(e.is_resolvable());
        assert_eq!(e.reasons(), vec!["Insufficient cpu", "Insufficient memory"]);
        // "one resource memory fits"
        assert_eq!(
            fits(&pod(100, 0, (3, 1)), &n((8, 19)))
                .unwrap_err()
                .reasons(),
            vec!["Insufficient cpu"]
        );
        // "one resource cpu fits"
        assert_eq!(
            fits(&pod(100, 0, (1, 2)), &n((5, 19)))
                .unwrap_err()
                .reasons(),
            vec!["Insufficient memory"]
        );
        // "equal edge case"
        assert_eq!(fits(&pod(100, 0, (5, 1)), &n((5, 19))), Ok(()));
        // Request above allocatable: UnschedulableAndUnresolvable.
        let e = fits(&pod(100, 0, (11, 1)), &n((0, 0))).unwrap_err();
        assert!(!e.is_resolvable());
        assert_eq!(e.reasons(), vec!["Insufficient cpu"]);
    }

    // TestNotEnoughRequests "even without specified resources, predicate fails when there's no
    // space for additional pod".
    #[test]
    fn fit_too_many_pods() {
        let n = with_pods(node("n", (10, 20), 1), vec![pod(1, 0, (0, 0))]);
        let e = fits(&pod(100, 0, (0, 0)), &n).unwrap_err();
        assert_eq!(e.reasons(), vec!["Too many pods"]);
        assert!(e.is_resolvable());
    }
}
