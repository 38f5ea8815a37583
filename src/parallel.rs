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
    on_all_cores(items.chunks(chunk).collect(), move |part: &[T]| {
        part.iter().flat_map(f).collect::<Vec<R>>()
    })
}

/// [`ordered_flat_map`] of owned items: each item is handed to `f` by value
/// and is gone once `f` returns, so what the items hold is freed while the
/// results are being made rather than after.
pub fn ordered_flat_map_owned<T: Send, R: Send, I: IntoIterator<Item = R>>(
    items: Vec<T>,
    from: usize,
    f: impl Fn(T) -> I + Sync,
) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if items.len() < from || threads < 2 {
        return items.into_iter().flat_map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let mut parts: Vec<Vec<T>> = Vec::with_capacity(threads);
    let mut items = items.into_iter();
    loop {
        let part: Vec<T> = items.by_ref().take(chunk).collect();
        if part.is_empty() {
            break;
        }
        parts.push(part);
    }
    let f = &f;
    on_all_cores(parts, move |part: Vec<T>| {
        part.into_iter().flat_map(f).collect::<Vec<R>>()
    })
}

/// `work` on each part, one thread per part, the last on this thread (so
/// its allocations reuse what this thread freed before), joined in order.
fn on_all_cores<P: Send, R: Send>(mut parts: Vec<P>, work: impl Fn(P) -> Vec<R> + Sync) -> Vec<R> {
    let last = parts.pop();
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| scope.spawn(move || work(part)))
            .collect();
        let last = last.map(work).unwrap_or_default();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .chain(last)
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

    #[test]
    fn owned_items_keep_the_order_too() {
        let items: Vec<u32> = (0..1000).collect();
        let words = ordered_flat_map_owned(items.iter().map(u32::to_string).collect(), 10, |n| {
            Some(format!("<{n}>"))
        });
        assert_eq!(
            words,
            items.iter().map(|n| format!("<{n}>")).collect::<Vec<_>>()
        );
        assert_eq!(
            ordered_flat_map_owned(vec![1, 2, 3], 10, |n| [n; 2]),
            [1, 1, 2, 2, 3, 3]
        );
    }
}
