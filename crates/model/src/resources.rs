//! Resource vectors in integer units.

use std::ops::{Add, AddAssign, Sub, SubAssign};

/// CPU (milli-cores), memory (bytes) and pod count: the resources the scheduler fits.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Resources {
    /// CPU in milli-cores (`1` core = 1000).
    pub cpu_milli: i64,
    /// Memory in bytes.
    pub memory: i64,
    /// Number of pods.
    pub pods: i64,
}

impl Resources {
    /// No resources.
    pub const ZERO: Resources = Resources {
        cpu_milli: 0,
        memory: 0,
        pods: 0,
    };

    /// A vector with the given CPU and memory and zero pods.
    pub const fn new(cpu_milli: i64, memory: i64) -> Self {
        Resources {
            cpu_milli,
            memory,
            pods: 0,
        }
    }

    /// True if every component of `self` is ≤ the matching component of `cap`.
    pub fn fits_in(&self, cap: &Resources) -> bool {
        self.cpu_milli <= cap.cpu_milli && self.memory <= cap.memory && self.pods <= cap.pods
    }

    /// The cpu and memory of `n` copies (the pod count is kept: copies of a container, not of
    /// a pod).
    pub fn times(&self, n: u32) -> Resources {
        Resources {
            cpu_milli: self.cpu_milli * n as i64,
            memory: self.memory * n as i64,
            pods: self.pods,
        }
    }

    /// Component-wise maximum.
    pub fn max(&self, o: &Resources) -> Resources {
        Resources {
            cpu_milli: self.cpu_milli.max(o.cpu_milli),
            memory: self.memory.max(o.memory),
            pods: self.pods.max(o.pods),
        }
    }
}

impl Add for Resources {
    type Output = Resources;
    fn add(self, o: Resources) -> Resources {
        Resources {
            cpu_milli: self.cpu_milli + o.cpu_milli,
            memory: self.memory + o.memory,
            pods: self.pods + o.pods,
        }
    }
}

impl Sub for Resources {
    type Output = Resources;
    fn sub(self, o: Resources) -> Resources {
        Resources {
            cpu_milli: self.cpu_milli - o.cpu_milli,
            memory: self.memory - o.memory,
            pods: self.pods - o.pods,
        }
    }
}

impl AddAssign for Resources {
    fn add_assign(&mut self, o: Resources) {
        *self = *self + o;
    }
}

impl SubAssign for Resources {
    fn sub_assign(&mut self, o: Resources) {
        *self = *self - o;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_and_fit() {
        let cap = Resources {
            cpu_milli: 2000,
            memory: 1 << 30,
            pods: 10,
        };
        let one = Resources {
            cpu_milli: 1000,
            memory: 500 << 20,
            pods: 1,
        };
        assert!((one + one).fits_in(&cap));
        assert!(!(one + one + one).fits_in(&cap));
        assert_eq!(
            cap - one - one,
            Resources {
                cpu_milli: 0,
                memory: (1 << 30) - (1000 << 20),
                pods: 8
            }
        );
    }
}
