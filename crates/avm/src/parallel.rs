//! Running one function over many items on a few scoped threads: [`in_turn`]
//! hands each index to whichever thread is free, and [`map_in_order`] keeps
//! each result by its index, so a caller reports the earliest failing input
//! whatever the scheduling (how [`crate::pack`] does; the CLI's `pack` runs
//! [`in_turn`] itself, writing each section into memory of its thread's).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Runs `f` on every index below `n`, on up to `threads` threads (at least
/// one; the calling thread is one of them), each taking the next index not
/// yet taken and passing its own number (0 for the calling thread) and a
/// scratch value `S` of its own (a reusable buffer, say). Returns the
/// scratch values by thread number once every index is done.
pub fn in_turn<S: Default + Send>(
    n: usize,
    threads: usize,
    f: impl Fn(usize, usize, &mut S) + Sync,
) -> Vec<S> {
    let next = AtomicUsize::new(0);
    let work = |t: usize| {
        let mut scratch = S::default();
        loop {
            let k = next.fetch_add(1, Ordering::Relaxed);
            if k >= n {
                break;
            }
            f(k, t, &mut scratch);
        }
        scratch
    };
    std::thread::scope(|s| {
        let helpers: Vec<_> = (1..threads.min(n))
            .map(|t| s.spawn(move || work(t)))
            .collect();
        let mut all = vec![work(0)];
        all.extend(helpers.into_iter().map(|h| h.join().expect("no panics")));
        all
    })
}

/// `f` over `items` on up to `threads` threads (0: one per core), each with
/// a scratch value of its own; the results in input order.
pub fn map_in_order<T, S, R>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T, &mut S) -> R + Sync,
) -> Vec<R>
where
    T: Sync,
    S: Default + Send,
    R: Send,
{
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let results: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    in_turn(items.len(), threads, |k, _, scratch: &mut S| {
        let r = f(&items[k], scratch);
        *results[k].lock().expect("no panics") = Some(r);
    });
    results
        .into_iter()
        .map(|r| r.into_inner().expect("no panics").expect("every item run"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_input_order_on_any_number_of_threads() {
        let items: Vec<u32> = (0..200).collect();
        for threads in [0, 1, 2, 3, 8] {
            // Uneven work, so that later items often finish first.
            let got = map_in_order(&items, threads, |&i, calls: &mut u32| {
                *calls += 1;
                if i % 7 == 0 {
                    std::thread::sleep(std::time::Duration::from_micros(200));
                }
                i * 2
            });
            assert_eq!(got, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        }
    }

    #[test]
    fn every_index_runs_once_with_its_threads_scratch() {
        for (n, threads) in [(0, 2), (1, 4), (100, 1), (100, 3)] {
            let runs: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
            let scratch = in_turn(n, threads, |k, t, seen: &mut Vec<(usize, usize)>| {
                runs[k].fetch_add(1, Ordering::Relaxed);
                seen.push((k, t));
            });
            assert!(runs.iter().all(|r| r.load(Ordering::Relaxed) == 1));
            assert_eq!(scratch.len(), threads.min(n).max(1));
            let mut all: Vec<usize> = Vec::new();
            for (t, seen) in scratch.iter().enumerate() {
                assert!(seen.iter().all(|&(_, by)| by == t));
                all.extend(seen.iter().map(|&(k, _)| k));
            }
            all.sort_unstable();
            assert_eq!(all, (0..n).collect::<Vec<_>>());
        }
    }
}
