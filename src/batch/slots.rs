//! The slots of a batch run: one per selected builder, with what keeps a
//! job off it (disabled, cooling down after "busy", running a job, or a
//! hasher-priv slot mate running one), and the choice of a slot for a job.
//!
//! Pure state over slot indices (the run's builder order); it must not
//! start builds, write the journal or emit events (`runner` does).

use std::collections::HashSet;
use std::time::Instant;

use super::lane::JobRef;
use crate::farm::{Builder, Farm};

/// One builder of the run as a place to build.
#[derive(Debug, Default)]
struct Slot {
    /// Why it is no longer used (a setup problem, its host on hold).
    disabled: Option<String>,
    /// Someone else held its workdir: left alone until then.
    cool_until: Option<Instant>,
    running: Option<JobRef>,
    /// Slots sharing its hasher-priv slot: never run together.
    mates: Vec<usize>,
}

/// Every slot of the run, by builder index.
#[derive(Debug)]
pub struct Slots {
    slots: Vec<Slot>,
}

impl Slots {
    /// A slot per builder, with its hasher-priv slot mates from `farm`.
    pub fn for_builders(builders: &[&Builder], farm: &Farm) -> Slots {
        let mates = builders
            .iter()
            .map(|b| {
                farm.slot_mates(&b.name)
                    .iter()
                    .filter_map(|m| builders.iter().position(|o| o.name == *m))
                    .collect()
            })
            .collect();
        Slots::with_mates(mates)
    }

    /// A slot per entry of `mates`, each with the slots it shares a
    /// hasher-priv slot with.
    pub fn with_mates(mates: Vec<Vec<usize>>) -> Slots {
        Slots {
            slots: mates
                .into_iter()
                .map(|mates| Slot {
                    mates,
                    ..Slot::default()
                })
                .collect(),
        }
    }

    /// The slots of `lane_slots` not disabled.
    pub fn usable(&self, lane_slots: &[usize]) -> Vec<usize> {
        lane_slots
            .iter()
            .copied()
            .filter(|s| self.slots[*s].disabled.is_none())
            .collect()
    }

    /// Why none of `lane_slots` is usable: the last one's reason.
    pub fn why_unusable(&self, lane_slots: &[usize]) -> String {
        lane_slots
            .iter()
            .rev()
            .find_map(|s| self.slots[*s].disabled.clone())
            .unwrap_or_else(|| "no builder".into())
    }

    /// Slot `s` can take a job at `now`.
    pub fn is_free(&self, s: usize, now: Instant) -> bool {
        let slot = &self.slots[s];
        slot.disabled.is_none()
            && slot.running.is_none()
            && slot.cool_until.is_none_or(|t| t <= now)
            && !slot.mates.iter().any(|m| self.slots[*m].running.is_some())
    }

    /// The free slot of `usable` for a job, preferring (in lane order)
    /// slots it has not failed on (`avoid`).
    pub fn pick(&self, usable: &[usize], avoid: &HashSet<usize>, now: Instant) -> Option<usize> {
        usable
            .iter()
            .copied()
            .filter(|s| self.is_free(*s, now))
            .min_by_key(|s| avoid.contains(s))
    }

    pub fn occupy(&mut self, s: usize, job: JobRef) {
        self.slots[s].running = Some(job);
    }

    pub fn release(&mut self, s: usize) {
        self.slots[s].running = None;
    }

    pub fn disable(&mut self, s: usize, why: String) {
        self.slots[s].disabled = Some(why);
    }

    pub fn cool_down(&mut self, s: usize, until: Instant) {
        self.slots[s].cool_until = Some(until);
    }

    /// The cool-downs still ahead of `now`.
    pub fn cool_downs(&self, now: Instant) -> impl Iterator<Item = Instant> + '_ {
        self.slots
            .iter()
            .filter_map(|s| s.cool_until)
            .filter(move |t| *t > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const JOB: JobRef = JobRef { lane: 0, job: 0 };

    fn none() -> HashSet<usize> {
        HashSet::new()
    }

    #[test]
    fn picks_the_first_free_slot_in_lane_order() {
        let mut s = Slots::with_mates(vec![vec![]; 3]);
        let now = Instant::now();
        assert_eq!(s.pick(&[2, 0, 1], &none(), now), Some(2));
        s.occupy(2, JOB);
        assert_eq!(s.pick(&[2, 0, 1], &none(), now), Some(0));
        s.release(2);
        assert_eq!(s.pick(&[2, 0, 1], &none(), now), Some(2));
    }

    #[test]
    fn a_slot_the_job_failed_on_is_the_last_choice_not_excluded() {
        let mut s = Slots::with_mates(vec![vec![]; 2]);
        let now = Instant::now();
        let avoid: HashSet<usize> = [0].into();
        assert_eq!(s.pick(&[0, 1], &avoid, now), Some(1));
        s.occupy(1, JOB);
        assert_eq!(s.pick(&[0, 1], &avoid, now), Some(0));
    }

    #[test]
    fn a_running_slot_mate_keeps_the_slot_free_of_jobs() {
        let mut s = Slots::with_mates(vec![vec![1], vec![0], vec![]]);
        let now = Instant::now();
        s.occupy(1, JOB);
        assert!(!s.is_free(0, now));
        assert!(s.is_free(2, now));
        assert_eq!(s.pick(&[0, 2], &none(), now), Some(2));
        s.release(1);
        assert!(s.is_free(0, now));
    }

    #[test]
    fn a_cooling_slot_is_free_again_when_its_time_comes() {
        let mut s = Slots::with_mates(vec![vec![]]);
        let now = Instant::now();
        let until = now + Duration::from_secs(5);
        s.cool_down(0, until);
        assert_eq!(s.pick(&[0], &none(), now), None);
        assert_eq!(s.cool_downs(now).collect::<Vec<_>>(), vec![until]);
        assert_eq!(s.pick(&[0], &none(), until), Some(0));
        assert_eq!(s.cool_downs(until).count(), 0);
    }

    #[test]
    fn disabled_slots_are_not_usable_and_the_last_reason_is_given() {
        let mut s = Slots::with_mates(vec![vec![]; 3]);
        assert_eq!(s.usable(&[0, 1, 2]), vec![0, 1, 2]);
        assert_eq!(s.why_unusable(&[0, 1]), "no builder");
        s.disable(0, "a: no hasher-priv".into());
        s.disable(1, "b: on hold".into());
        assert_eq!(s.usable(&[0, 1, 2]), vec![2]);
        assert_eq!(s.why_unusable(&[0, 1]), "b: on hold");
        assert_eq!(s.pick(&[0, 1], &none(), Instant::now()), None);
    }
}
