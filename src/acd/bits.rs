//! A fixed-size set of agents (by index) as a bitset: the router keeps one
//! per skill and proficiency, and one of the available agents, so the
//! agents able to take a call are a few word-wise ANDs away.

/// A set of agent indexes below its capacity.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgentBits {
    words: Vec<u64>,
}

impl AgentBits {
    /// An empty set for agents `0..capacity`.
    pub fn new(capacity: usize) -> Self {
        AgentBits {
            words: vec![0; capacity.div_ceil(64)],
        }
    }

    /// Every agent `0..capacity`.
    pub fn full(capacity: usize) -> Self {
        let mut b = Self::new(capacity);
        for i in 0..capacity {
            b.insert(i);
        }
        b
    }

    pub fn insert(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    pub fn remove(&mut self, i: usize) {
        self.words[i / 64] &= !(1 << (i % 64));
    }

    pub fn contains(&self, i: usize) -> bool {
        self.words
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Keeps only the agents also in `other`.
    pub fn intersect(&mut self, other: &AgentBits) {
        for (w, o) in self.words.iter_mut().zip(&other.words) {
            *w &= o;
        }
    }

    /// Copies `other` into this set (same capacity), without allocating.
    pub fn copy_from(&mut self, other: &AgentBits) {
        self.words.copy_from_slice(&other.words);
    }

    /// The agents in the set, lowest index first.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let bit = w.trailing_zeros() as usize;
                w &= w - 1;
                Some(i * 64 + bit)
            })
        })
    }

    /// The first agent after `i` (wrapping around), if any.
    pub fn next_after(&self, i: Option<usize>) -> Option<usize> {
        let start = i.map_or(0, |i| i + 1);
        self.iter()
            .find(|&a| a >= start)
            .or_else(|| self.iter().next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_intersect_and_iterate_in_order() {
        let mut a = AgentBits::new(130);
        for i in [0, 5, 64, 129] {
            a.insert(i);
        }
        let mut b = AgentBits::full(130);
        b.remove(5);
        a.intersect(&b);
        assert_eq!(a.iter().collect::<Vec<_>>(), [0, 64, 129]);
        assert_eq!(a.len(), 3);
        assert!(a.contains(129) && !a.contains(5) && !a.contains(500));
        assert_eq!(a.next_after(Some(64)), Some(129));
        assert_eq!(a.next_after(Some(129)), Some(0), "wraps around");
        assert_eq!(a.next_after(None), Some(0));
        a.copy_from(&AgentBits::new(130));
        assert!(a.is_empty());
        assert_eq!(a.next_after(Some(3)), None);
    }
}
