//! The cloud model: the built-in AWS instance catalog and EKS allocatable rules.
//!
//! Sources:
//! - vCPU and memory: AWS EC2 instance type specifications (aws.amazon.com/ec2/instance-types).
//! - Max pods: amazon-eks-ami `eni-max-pods.txt` (ENIs × (IPv4 per ENI − 1) + 2, no prefix
//!   delegation).
//! - On-demand prices: AWS EC2 on-demand pricing, Linux, us-east-1 (USD per hour).
//! - Spot prices: **assumption** — on-demand × 0.35 (AWS quotes "up to 90%" off; 60–70% is the
//!   typical observed discount for these families). Override per scenario when it matters.
//! - Allocatable: amazon-eks-ami bootstrap rules — kube-reserved CPU 6% of the first core, 1% of
//!   the second, 0.5% of cores 3–4, 0.25% above; kube-reserved memory 255 MiB + 11 MiB per max
//!   pod; eviction threshold `memory.available<100Mi` (kubelet default).

/// One instance type of the catalog.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceType {
    /// Name, e.g. `m5.large`.
    pub name: &'static str,
    /// vCPUs.
    pub vcpu: u32,
    /// Memory in GiB.
    pub memory_gib: f64,
    /// Max pods (ENI limit).
    pub max_pods: u32,
    /// On-demand price, USD per hour.
    pub on_demand_hourly: f64,
}

impl InstanceType {
    /// Capacity in milli-cores.
    pub fn cpu_milli(&self) -> i64 {
        self.vcpu as i64 * 1000
    }

    /// Capacity in bytes.
    pub fn memory_bytes(&self) -> i64 {
        (self.memory_gib * (1u64 << 30) as f64) as i64
    }

    /// Allocatable CPU (milli-cores) after EKS kube-reserved.
    pub fn allocatable_cpu_milli(&self) -> i64 {
        let cores = self.vcpu as i64;
        // Reserved in milli-cores, piecewise per core as the EKS AMI computes it.
        let mut reserved = 0i64;
        for core in 1..=cores {
            reserved += match core {
                1 => 60,
                2 => 10,
                3 | 4 => 5,
                _ => 0,
            };
        }
        // 0.25% of every core above the fourth, in milli-cores (2.5m per core), rounded up.
        let extra = (cores - 4).max(0);
        reserved += (extra * 25 + 9) / 10;
        self.cpu_milli() - reserved
    }

    /// Allocatable memory (bytes) after EKS kube-reserved and the eviction threshold.
    pub fn allocatable_memory(&self) -> i64 {
        let mib = 1i64 << 20;
        self.memory_bytes() - (255 + 11 * self.max_pods as i64) * mib - 100 * mib
    }

    /// Hourly price for a capacity type (`on-demand` or `spot`).
    pub fn hourly_price(&self, capacity_type: &str) -> f64 {
        if capacity_type == "spot" {
            self.on_demand_hourly * SPOT_DISCOUNT_FACTOR
        } else {
            self.on_demand_hourly
        }
    }
}

/// Spot price as a fraction of on-demand (assumption, see module docs).
pub const SPOT_DISCOUNT_FACTOR: f64 = 0.35;

/// What a node is made of: its instance type's name, capacity, allocatable and price.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeShape {
    /// Instance type name (a catalog name, or any name for explicit resources).
    pub instance_type: String,
    /// Capacity.
    pub capacity: kscale_model::Resources,
    /// Allocatable (what the scheduler sees).
    pub allocatable: kscale_model::Resources,
    /// Price, USD per hour.
    pub hourly_price: f64,
}

impl NodeShape {
    /// A node of a catalog instance type and capacity type (`on-demand` or `spot`).
    pub fn of(it: &InstanceType, capacity_type: &str) -> NodeShape {
        NodeShape {
            instance_type: it.name.to_string(),
            capacity: kscale_model::Resources {
                cpu_milli: it.cpu_milli(),
                memory: it.memory_bytes(),
                pods: it.max_pods as i64,
            },
            allocatable: kscale_model::Resources {
                cpu_milli: it.allocatable_cpu_milli(),
                memory: it.allocatable_memory(),
                pods: it.max_pods as i64,
            },
            hourly_price: it.hourly_price(capacity_type),
        }
    }
}

macro_rules! it {
    ($n:literal, $c:literal, $m:literal, $p:literal, $price:literal) => {
        InstanceType {
            name: $n,
            vcpu: $c,
            memory_gib: $m,
            max_pods: $p,
            on_demand_hourly: $price,
        }
    };
}

/// The AWS catalog: t3, m5, c5 and r5 families.
pub static AWS_CATALOG: &[InstanceType] = &[
    it!("t3.nano", 2, 0.5, 4, 0.0052),
    it!("t3.micro", 2, 1.0, 4, 0.0104),
    it!("t3.small", 2, 2.0, 11, 0.0208),
    it!("t3.medium", 2, 4.0, 17, 0.0416),
    it!("t3.large", 2, 8.0, 35, 0.0832),
    it!("t3.xlarge", 4, 16.0, 58, 0.1664),
    it!("t3.2xlarge", 8, 32.0, 58, 0.3328),
    it!("m5.large", 2, 8.0, 29, 0.096),
    it!("m5.xlarge", 4, 16.0, 58, 0.192),
    it!("m5.2xlarge", 8, 32.0, 58, 0.384),
    it!("m5.4xlarge", 16, 64.0, 234, 0.768),
    it!("m5.8xlarge", 32, 128.0, 234, 1.536),
    it!("m5.12xlarge", 48, 192.0, 234, 2.304),
    it!("m5.16xlarge", 64, 256.0, 737, 3.072),
    it!("m5.24xlarge", 96, 384.0, 737, 4.608),
    it!("c5.large", 2, 4.0, 29, 0.085),
    it!("c5.xlarge", 4, 8.0, 58, 0.17),
    it!("c5.2xlarge", 8, 16.0, 58, 0.34),
    it!("c5.4xlarge", 16, 32.0, 234, 0.68),
    it!("c5.9xlarge", 36, 72.0, 234, 1.53),
    it!("c5.12xlarge", 48, 96.0, 234, 2.04),
    it!("c5.18xlarge", 72, 144.0, 737, 3.06),
    it!("c5.24xlarge", 96, 192.0, 737, 4.08),
    it!("r5.large", 2, 16.0, 29, 0.126),
    it!("r5.xlarge", 4, 32.0, 58, 0.252),
    it!("r5.2xlarge", 8, 64.0, 58, 0.504),
    it!("r5.4xlarge", 16, 128.0, 234, 1.008),
    it!("r5.8xlarge", 32, 256.0, 234, 2.016),
    it!("r5.12xlarge", 48, 384.0, 234, 3.024),
    it!("r5.16xlarge", 64, 512.0, 737, 4.032),
    it!("r5.24xlarge", 96, 768.0, 737, 6.048),
];

/// Looks up an instance type by name.
pub fn instance_type(name: &str) -> Option<&'static InstanceType> {
    AWS_CATALOG.iter().find(|t| t.name == name)
}

/// Comma-separated family list for error messages.
pub fn catalog_names() -> String {
    "t3.*, m5.*, c5.*, r5.* (e.g. t3.small, m5.large, c5.xlarge, r5.2xlarge)".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eks_allocatable_matches_published_values() {
        // t3.small: 2 vCPU → 1930m; 2 GiB − (255 + 11·11) MiB − 100 MiB = 1572 MiB.
        let t = instance_type("t3.small").unwrap();
        assert_eq!(t.allocatable_cpu_milli(), 1930);
        assert_eq!(t.allocatable_memory(), 1572 << 20);
        // m5.large: 1930m; 8 GiB − (255 + 319) MiB − 100 MiB = 7518 MiB.
        let m = instance_type("m5.large").unwrap();
        assert_eq!(m.allocatable_memory(), 7518 << 20);
        // m5.4xlarge: 16 cores → 16000 − (60+10+5+5+12·2.5=30) = 15890m.
        assert_eq!(
            instance_type("m5.4xlarge").unwrap().allocatable_cpu_milli(),
            15890
        );
        assert!(instance_type("z9.huge").is_none());
        assert!((t.hourly_price("spot") - 0.0208 * 0.35).abs() < 1e-12);
    }
}
