//! How the resource metrics API (`metrics.k8s.io`, served by metrics-server) represents a
//! pod's usage, and how the HPA reads it back, so that both backends' HPAs see the same
//! numbers: the twin's reads them through these functions, `--cluster`'s metrics server
//! formats what it serves with them.

/// CPU usage as served: whole nanocores (metrics-server's `resource.NewScaledQuantity(n, -9)`).
pub fn cpu_nanocores(milli: f64) -> i64 {
    (milli * 1e6).round() as i64
}

/// Memory usage as served: whole KiB. *Assumption*: the kubelet's working set is
/// page-granular, so what metrics-server reports is a multiple of 1 KiB; a real v1.37 HPA
/// showed such values (`102537Ki`).
pub fn memory_kib(bytes: f64) -> i64 {
    (bytes / 1024.0).round() as i64
}

/// The HPA's reading of a served CPU usage: `Quantity.MilliValue()`, which rounds up.
pub fn cpu_read_milli(milli: f64) -> i64 {
    let n = cpu_nanocores(milli);
    n.div_euclid(1_000_000) + i64::from(n.rem_euclid(1_000_000) != 0)
}

/// The HPA's reading of a served memory usage, in milli-bytes (`Quantity.MilliValue()`).
pub fn memory_read_milli(bytes: f64) -> i64 {
    memory_kib(bytes) * 1024 * 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_round_as_quantities_do() {
        assert_eq!(cpu_nanocores(90.0), 90_000_000);
        assert_eq!(cpu_read_milli(90.0), 90);
        // MilliValue rounds up a fraction of a millicore.
        assert_eq!(cpu_read_milli(89.5), 90);
        assert_eq!(cpu_read_milli(0.0), 0);
        assert_eq!(memory_kib(100.0 * 1024.0 * 1024.0 + 300.0), 102_400);
        assert_eq!(memory_read_milli(2048.4), 2_048_000);
    }
}
