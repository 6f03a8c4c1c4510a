//! Latency histogram and process figures read from `/proc`.

use std::time::Duration;

/// A log-linear histogram of microsecond values: exact below 32 µs, then 16 buckets per power
/// of two (each bucket at most 6.25 % wide). Cheap enough to record every delivery.
#[derive(Clone)]
pub struct Histogram {
    buckets: Vec<u64>,
    count: u64,
    max: u64,
}

const SUB: u64 = 16;
const LINEAR: u64 = 32;

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: vec![0; (LINEAR + 64 * SUB) as usize],
            count: 0,
            max: 0,
        }
    }
}

fn index(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    let e = 63 - u64::from(v.leading_zeros()); // ≥ 5
    let m = (v >> (e - 4)) & (SUB - 1);
    (LINEAR + (e - 5) * SUB + m) as usize
}

/// The largest value that falls into bucket `i`.
fn upper(i: usize) -> u64 {
    let i = i as u64;
    if i < LINEAR {
        return i;
    }
    let e = (i - LINEAR) / SUB + 5;
    let m = (i - LINEAR) % SUB;
    ((SUB + m + 1) << (e - 4)) - 1
}

impl Histogram {
    pub fn record(&mut self, d: Duration) {
        let us = d.as_micros().min(u64::MAX as u128) as u64;
        self.buckets[index(us)] += 1;
        self.count += 1;
        self.max = self.max.max(us);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
        self.count += other.count;
        self.max = self.max.max(other.max);
    }

    /// The value at quantile `q` (0..=1), in µs (upper edge of its bucket, capped at the max).
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(upper(i).min(self.max));
            }
        }
        Some(self.max)
    }
}

/// Format a µs figure as `1.23 ms` / `456 µs`.
pub fn fmt_us(v: Option<u64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v >= 10_000 => format!("{:.1} ms", v as f64 / 1000.0),
        Some(v) if v >= 1_000 => format!("{:.2} ms", v as f64 / 1000.0),
        Some(v) => format!("{v} µs"),
    }
}

/// CPU time (user + system) a process has used so far.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces: fields are counted after the closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after "pid (comm)".
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let tick = clock_tick();
    Some(Duration::from_secs_f64(
        (utime + stime) as f64 / tick as f64,
    ))
}

fn clock_tick() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as u64 } else { 100 }
}

/// Resident set size of a process, bytes.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_their_values() {
        for v in [0u64, 1, 31, 32, 33, 47, 63, 64, 100, 1000, 12345, 1 << 40] {
            let i = index(v);
            assert!(upper(i) >= v, "v={v} i={i} upper={}", upper(i));
            if i > 0 {
                assert!(upper(i - 1) < v, "v={v} lands too high");
            }
        }
    }

    #[test]
    fn quantiles_are_close() {
        let mut h = Histogram::default();
        for us in 1..=10_000u64 {
            h.record(Duration::from_micros(us));
        }
        let p50 = h.quantile(0.5).unwrap() as f64;
        let p99 = h.quantile(0.99).unwrap() as f64;
        assert!((p50 - 5000.0).abs() / 5000.0 < 0.07, "p50={p50}");
        assert!((p99 - 9900.0).abs() / 9900.0 < 0.07, "p99={p99}");
        assert_eq!(h.quantile(1.0), Some(10_000));
    }
}
