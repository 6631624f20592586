//! Retries of a batch run's transport failures: each job's attempts, when
//! it may start again (backoff with jitter), the slots it failed on, and
//! each host's consecutive failures that put it on hold.
//!
//! Pure bookkeeping; it must not touch slots, the journal or events, nor
//! decide what a job's outcome means (`runner` does).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use super::lane::JobRef;

/// Transport attempts per job before it is given up.
pub const MAX_ATTEMPTS: u32 = 5;
/// Consecutive transport failures after which a host is put on hold.
pub const HOST_HOLD_AFTER: u32 = 3;

/// The retry state of one run.
#[derive(Debug, Default)]
pub struct Retries {
    attempts: HashMap<JobRef, u32>,
    not_before: HashMap<JobRef, Instant>,
    failed_on: HashMap<JobRef, HashSet<usize>>,
    host_failures: HashMap<String, u32>,
}

impl Retries {
    /// `job` starts: its attempt number (1 for the first).
    pub fn start(&mut self, job: JobRef) -> u32 {
        let e = self.attempts.entry(job).or_insert(0);
        *e += 1;
        *e
    }

    /// A job moved off a busy or unusable slot did not use up an attempt.
    pub fn uncount(&mut self, job: JobRef) {
        self.attempts
            .entry(job)
            .and_modify(|a| *a = a.saturating_sub(1));
    }

    /// The attempt `job` is in (1 when it never started).
    pub fn attempt(&self, job: JobRef) -> u32 {
        self.attempts.get(&job).copied().unwrap_or(1)
    }

    /// `job` is waiting out its backoff at `now`.
    pub fn backing_off(&self, job: JobRef, now: Instant) -> bool {
        self.not_before.get(&job).is_some_and(|t| *t > now)
    }

    /// `job` is tried again after `attempt`: it waits from `now` for the
    /// returned backoff.
    pub fn back_off(&mut self, job: JobRef, attempt: u32, now: Instant) -> Duration {
        let wait = backoff(attempt, (job.lane * 7919 + job.job) as u64 + attempt as u64);
        self.not_before.insert(job, now + wait);
        wait
    }

    /// `job` lost its host on `slot`: its retries go to other slots first.
    pub fn lost_on(&mut self, job: JobRef, slot: usize) {
        self.failed_on.entry(job).or_default().insert(slot);
    }

    /// The slots `job` was lost on.
    pub fn avoid(&self, job: JobRef) -> HashSet<usize> {
        self.failed_on.get(&job).cloned().unwrap_or_default()
    }

    /// The backoffs still ahead of `now`.
    pub fn backoffs(&self, now: Instant) -> impl Iterator<Item = Instant> + '_ {
        self.not_before.values().copied().filter(move |t| *t > now)
    }

    /// A build on `host` ran (well or not): its failures were not in a row.
    pub fn host_ok(&mut self, host: &str) {
        self.host_failures.remove(host);
    }

    /// `host` was lost once more: its failures in a row.
    pub fn host_lost(&mut self, host: &str) -> u32 {
        let n = self.host_failures.entry(host.to_string()).or_insert(0);
        *n += 1;
        *n
    }
}

/// How long a job waits before attempt `attempt + 1`: 1 s doubling per
/// attempt up to 16 s, ±25% jitter from `seed`, never under 100 ms.
pub fn backoff(attempt: u32, seed: u64) -> Duration {
    let base = 1000u64 << attempt.min(5).saturating_sub(1);
    // Jitter ±25% so retries of many jobs do not line up.
    let mut x = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    let jitter = (x % (base / 2 + 1)) as i64 - (base / 4) as i64;
    Duration::from_millis((base as i64 + jitter).max(100) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOB: JobRef = JobRef { lane: 1, job: 2 };

    #[test]
    fn backoff_doubles_per_attempt_within_a_quarter_and_stops_at_16s() {
        for attempt in 1..=8u32 {
            let base = 1000u64 << (attempt.min(5) - 1);
            let waits: Vec<u64> = (0..200u64)
                .map(|seed| backoff(attempt, seed).as_millis() as u64)
                .collect();
            for w in &waits {
                assert!(
                    *w >= base * 3 / 4 && *w <= base * 5 / 4,
                    "attempt {attempt}: {w} ms outside {base} ms ±25%"
                );
            }
            // Jitter really spreads the retries of many jobs.
            let distinct: HashSet<u64> = waits.iter().copied().collect();
            assert!(distinct.len() > 20, "attempt {attempt}: {distinct:?}");
        }
        assert_eq!(backoff(3, 42), backoff(3, 42));
        assert!(backoff(6, 1) <= Duration::from_millis(20_000));
    }

    #[test]
    fn attempts_count_up_and_busy_slots_give_theirs_back() {
        let mut r = Retries::default();
        assert_eq!(r.attempt(JOB), 1);
        assert_eq!(r.start(JOB), 1);
        assert_eq!(r.start(JOB), 2);
        r.uncount(JOB);
        assert_eq!(r.attempt(JOB), 1);
        assert_eq!(r.start(JOB), 2);
        // Another job has its own count.
        assert_eq!(r.start(JobRef { lane: 0, job: 2 }), 1);
    }

    #[test]
    fn a_lost_job_backs_off_and_avoids_the_slot() {
        let mut r = Retries::default();
        let now = Instant::now();
        assert!(!r.backing_off(JOB, now));
        r.lost_on(JOB, 3);
        let wait = r.back_off(JOB, 1, now);
        assert_eq!(wait, backoff(1, (7919 + 2) as u64 + 1));
        assert!(r.backing_off(JOB, now));
        assert!(!r.backing_off(JOB, now + wait));
        assert_eq!(r.backoffs(now).collect::<Vec<_>>(), vec![now + wait]);
        assert_eq!(r.avoid(JOB), [3].into());
        assert!(r.avoid(JobRef { lane: 0, job: 0 }).is_empty());
    }

    #[test]
    fn host_failures_count_in_a_row_only() {
        let mut r = Retries::default();
        assert_eq!(r.host_lost("h1"), 1);
        assert_eq!(r.host_lost("h1"), 2);
        assert_eq!(r.host_lost("h2"), 1);
        r.host_ok("h1");
        assert_eq!(r.host_lost("h1"), 1);
    }
}
