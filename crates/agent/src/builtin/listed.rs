//! Capped lists: at most [`super::Limits::findings`] items are kept, the smallest ones, and the
//! others counted, so memory stays bounded and the result does not depend on which walk thread
//! found what.

use std::collections::BinaryHeap;

/// A list that keeps the `cap` smallest items and counts the others.
#[derive(Debug, Clone)]
pub struct Capped<T: Ord> {
    heap: BinaryHeap<T>,
    cap: usize,
    more: usize,
}

impl<T: Ord> Capped<T> {
    pub fn new(cap: usize) -> Capped<T> {
        Capped {
            heap: BinaryHeap::new(),
            cap,
            more: 0,
        }
    }

    pub fn push(&mut self, item: T) {
        if self.heap.len() < self.cap {
            self.heap.push(item);
        } else if self.heap.peek().is_some_and(|largest| item < *largest) {
            self.heap.pop();
            self.heap.push(item);
            self.more += 1;
        } else {
            self.more += 1;
        }
    }

    pub fn merge(&mut self, other: Capped<T>) {
        self.more += other.more;
        for item in other.heap {
            self.push(item);
        }
    }

    pub fn finish(self) -> Listed<T> {
        Listed {
            items: self.heap.into_sorted_vec(),
            more: self.more,
        }
    }
}

/// Up to the cap's items, smallest first, and how many more there were.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub more: usize,
}

impl<T> Default for Listed<T> {
    fn default() -> Self {
        Listed {
            items: Vec::new(),
            more: 0,
        }
    }
}

impl<T> Listed<T> {
    /// Every item listed, none counted apart.
    pub fn of(items: Vec<T>) -> Listed<T> {
        Listed { items, more: 0 }
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.more == 0
    }
    pub fn total(&self) -> usize {
        self.items.len() + self.more
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_smallest_whatever_the_order() {
        let mut a = Capped::new(3);
        let mut b = Capped::new(3);
        for i in [9, 1, 7, 3] {
            a.push(i);
        }
        for i in [2, 8, 5] {
            b.push(i);
        }
        a.merge(b);
        let listed = a.finish();
        assert_eq!(listed.items, [1, 2, 3]);
        assert_eq!(listed.more, 4);
        assert_eq!(listed.total(), 7);
    }
}
