//! Mapping a list on all cores, in order.

/// What `f` gives for every item (none, one or several), in the items'
/// order: on all cores from `from` items on (one chunk per core), on this
/// thread below that or on one core.
pub fn ordered_flat_map<T: Sync, R: Send, I: IntoIterator<Item = R>>(
    items: &[T],
    from: usize,
    f: impl Fn(&T) -> I + Sync,
) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if items.len() < from || threads < 2 {
        return items.iter().flat_map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().flat_map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_order() {
        let items: Vec<u32> = (0..1000).collect();
        let doubled = ordered_flat_map(&items, 10, |n| Some(n * 2));
        assert_eq!(doubled, items.iter().map(|n| n * 2).collect::<Vec<_>>());
        let odd = ordered_flat_map(&items, 10, |n| (n % 2 == 1).then_some(*n));
        assert_eq!(odd.len(), 500);
        assert!(odd.is_sorted());
        assert_eq!(
            ordered_flat_map(&items[..3], 10, |n| [*n; 2]),
            [0, 0, 1, 1, 2, 2]
        );
    }
}
