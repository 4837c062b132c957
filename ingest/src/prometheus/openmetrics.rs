//! Kueue-shaped wait-time histograms as an OpenMetrics file, for tests and
//! benchmarks: `promtool tsdb create-blocks-from openmetrics` turns it into TSDB
//! blocks a real Prometheus serves. One scrape every `step` seconds; each scrape's
//! new observations are drawn per queue; the counters restart from zero at
//! `reset_at` (a restarted exporter). Alongside, every observation is reported with
//! the time of the scrape that first shows it, so tests can compute the exact
//! percentiles of each period independently of Prometheus.

use std::io::Write;

use crate::generate::Rng;

/// Bucket upper bounds (seconds), as Kueue's admission wait-time histogram uses
/// (powers of two from 1 s, then +Inf).
pub const BUCKETS: [f64; 14] =
    [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0];

/// What to write.
#[derive(Debug, Clone)]
pub struct Options {
    /// Metric family name, e.g. `kueue_admission_wait_time_seconds`.
    pub metric: String,
    /// The label naming the queue, e.g. `cluster_queue`.
    pub queue_label: String,
    /// Queues with their median wait in seconds.
    pub queues: Vec<(String, f64)>,
    /// First and last scrape, epoch seconds.
    pub first: i64,
    /// See `first`.
    pub last: i64,
    /// Seconds between scrapes.
    pub step: i64,
    /// Observations per queue per scrape, at most.
    pub per_scrape: u64,
    /// The scrape at which counters restart from zero.
    pub reset_at: Option<i64>,
    /// Same seed, same file.
    pub seed: u64,
}

/// Writes the file; calls `observed(queue index, scrape time, wait)` for every observation.
pub fn write(
    out: &mut impl Write,
    options: &Options,
    mut observed: impl FnMut(usize, i64, f64),
) -> std::io::Result<()> {
    let mut rng = Rng(options.seed.max(1));
    let n = options.queues.len();
    // Cumulative bucket counts (BUCKETS then +Inf) and sums, per queue.
    let mut buckets = vec![[0u64; BUCKETS.len() + 1]; n];
    let mut sums = vec![0f64; n];
    let name = &options.metric;
    writeln!(out, "# HELP {name} Time between a workload's creation or requeue and its admission.")?;
    writeln!(out, "# TYPE {name} histogram")?;
    // OpenMetrics wants one label set's points together, in time order, each point's
    // buckets, count and sum side by side.
    let mut per_queue: Vec<Vec<String>> = vec![Vec::new(); n];
    let mut t = options.first;
    while t <= options.last {
        if options.reset_at == Some(t) {
            buckets.iter_mut().for_each(|b| *b = [0; BUCKETS.len() + 1]);
            sums.iter_mut().for_each(|s| *s = 0.0);
        }
        for (q, (_, median)) in options.queues.iter().enumerate() {
            let count = rng.next() % (options.per_scrape + 1);
            for _ in 0..count {
                // Exponential waits around the median, in milliseconds.
                let wait = ((-(1.0 - rng.unit()).ln() * median / std::f64::consts::LN_2) * 1000.0).round() / 1000.0;
                observed(q, t, wait);
                sums[q] += wait;
                for (i, bound) in BUCKETS.iter().enumerate() {
                    if wait <= *bound {
                        buckets[q][i] += 1;
                    }
                }
                buckets[q][BUCKETS.len()] += 1;
            }
            let label = format!("{}=\"{}\"", options.queue_label, options.queues[q].0);
            let lines = &mut per_queue[q];
            for (i, bound) in BUCKETS.iter().map(|b| format!("{b:?}")).chain(["+Inf".to_owned()]).enumerate() {
                lines.push(format!("{name}_bucket{{{label},le=\"{bound}\"}} {} {t}", buckets[q][i]));
            }
            lines.push(format!("{name}_count{{{label}}} {} {t}", buckets[q][BUCKETS.len()]));
            lines.push(format!("{name}_sum{{{label}}} {} {t}", sums[q]));
        }
        t += options.step;
    }
    for queue in per_queue {
        for line in queue {
            writeln!(out, "{line}")?;
        }
    }
    writeln!(out, "# EOF")
}
