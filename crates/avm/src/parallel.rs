//! Running one function over many items on a few scoped threads, results in
//! input order whatever the scheduling: how [`crate::pack`] reports the
//! earliest failing input.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// How far past the next result due a thread may start an item. Results
/// that wait for their turn hold their memory (when the CLI streamed
/// sections through here, a section buffer each): unbounded, a thread that
/// got ahead while another worked through a large module, or was not
/// scheduled, had 40 to 200 of them waiting on Elixir's ebin, each fresh
/// memory, each page a page fault.
const WINDOW: usize = 16;

/// Runs `f` over `items` on up to `threads` threads (0: one per core), the
/// calling thread being one of them, and hands each result to `consume`, on
/// the calling thread, in input order as soon as it and every result before
/// it are ready. Each thread has its own scratch value `S` (a reusable
/// buffer, say). Items are taken in order by whichever thread
/// is free, and no thread starts an item more than a few places past the
/// next one due, so few results wait.
///
/// The calling thread works too, rather than only waiting to consume: a
/// consumer that only writes would otherwise be a third thread on two
/// cores, scheduled late, while results it has not taken pile up.
///
/// When `consume` fails, threads start no further items and the error is
/// returned; so, as with a loop, the error is that of the first failing
/// result in input order.
pub fn for_each_in_order<T, S, R, E>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T, &mut S) -> R + Sync,
    mut consume: impl FnMut(R) -> Result<(), E>,
) -> Result<(), E>
where
    T: Sync,
    S: Default,
    R: Send,
{
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .min(items.len())
    .max(1);
    if threads == 1 {
        let mut scratch = S::default();
        return items.iter().try_for_each(|i| consume(f(i, &mut scratch)));
    }
    let shared = Shared {
        next: AtomicUsize::new(0),
        due: AtomicUsize::new(0),
        parked: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
    };
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel();
        let helpers: Vec<std::thread::Thread> = (1..threads)
            .map(|_| {
                let (tx, f, shared) = (tx.clone(), &f, &shared);
                let handle = s.spawn(move || {
                    let mut scratch = S::default();
                    while let Some(k) = shared.claim(items.len()) {
                        if !shared.wait_for_turn(k)
                            || tx.send((k, f(&items[k], &mut scratch))).is_err()
                        {
                            break;
                        }
                    }
                });
                handle.thread().clone()
            })
            .collect();
        drop(tx);
        let mut order = InOrder {
            early: (0..items.len()).map(|_| None).collect(),
            due: 0,
        };
        let mut scratch = S::default();
        let mut arrive = |k: usize, r: R, order: &mut InOrder<R>| -> Result<(), E> {
            order.arrive(k, r, &mut consume)?;
            shared.due.store(order.due, Ordering::SeqCst);
            if shared.parked.load(Ordering::SeqCst) > 0 {
                helpers.iter().for_each(std::thread::Thread::unpark);
            }
            Ok(())
        };
        let done = (|| {
            loop {
                while let Ok((k, r)) = rx.try_recv() {
                    arrive(k, r, &mut order)?;
                }
                // Far enough ahead: wait for what the others are doing.
                if shared.next.load(Ordering::SeqCst) >= order.due + WINDOW {
                    match rx.recv() {
                        Ok((k, r)) => arrive(k, r, &mut order)?,
                        Err(_) => break,
                    }
                    continue;
                }
                let Some(k) = shared.claim(items.len()) else {
                    break;
                };
                arrive(k, f(&items[k], &mut scratch), &mut order)?;
            }
            // What the other threads still have; ends once they all have
            // finished and dropped their senders.
            for (k, r) in &rx {
                arrive(k, r, &mut order)?;
            }
            Ok(())
        })();
        if done.is_err() {
            shared.stop.store(true, Ordering::SeqCst);
            helpers.iter().for_each(std::thread::Thread::unpark);
        }
        done
    })
}

/// What the threads of [`for_each_in_order`] share.
struct Shared {
    /// The next item to start.
    next: AtomicUsize,
    /// The next result to consume, as the calling thread last published it.
    due: AtomicUsize,
    /// Helper threads waiting for their turn.
    parked: AtomicUsize,
    stop: AtomicBool,
}

impl Shared {
    /// The next item to start, unless all are taken or the run stopped.
    fn claim(&self, n: usize) -> Option<usize> {
        if self.stop.load(Ordering::SeqCst) {
            return None;
        }
        let k = self.next.fetch_add(1, Ordering::SeqCst);
        (k < n).then_some(k)
    }

    /// Parks a helper while item `k` is more than [`WINDOW`] past the next
    /// result due; false if the run stopped meanwhile. The consumer unparks
    /// after publishing a new `due` whenever `parked` is set, and a helper
    /// looks at `due` again after setting it, so no wake-up is lost (the
    /// timeout is only a backstop).
    fn wait_for_turn(&self, k: usize) -> bool {
        while k >= self.due.load(Ordering::SeqCst) + WINDOW {
            if self.stop.load(Ordering::SeqCst) {
                return false;
            }
            self.parked.fetch_add(1, Ordering::SeqCst);
            if k >= self.due.load(Ordering::SeqCst) + WINDOW && !self.stop.load(Ordering::SeqCst) {
                std::thread::park_timeout(Duration::from_millis(1));
            }
            self.parked.fetch_sub(1, Ordering::SeqCst);
        }
        !self.stop.load(Ordering::SeqCst)
    }
}

/// Results that came early, by index, until their turn.
struct InOrder<R> {
    early: Vec<Option<R>>,
    due: usize,
}

impl<R> InOrder<R> {
    fn arrive<E>(
        &mut self,
        k: usize,
        r: R,
        consume: &mut impl FnMut(R) -> Result<(), E>,
    ) -> Result<(), E> {
        self.early[k] = Some(r);
        while let Some(r) = self.early.get_mut(self.due).and_then(Option::take) {
            self.due += 1;
            consume(r)?;
        }
        Ok(())
    }
}

/// [`for_each_in_order`], collecting the results.
pub fn map_in_order<T, S, R>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T, &mut S) -> R + Sync,
) -> Vec<R>
where
    T: Sync,
    S: Default,
    R: Send,
{
    let mut out = Vec::with_capacity(items.len());
    let done: Result<(), std::convert::Infallible> = for_each_in_order(items, threads, f, |r| {
        out.push(r);
        Ok(())
    });
    match done {
        Ok(()) => out,
        Err(never) => match never {},
    }
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
    fn no_thread_runs_far_ahead_of_a_slow_item() {
        let items: Vec<u32> = (0..200).collect();
        for threads in [2, 3] {
            let started = AtomicUsize::new(0);
            let during_first = AtomicUsize::new(0);
            let got = map_in_order(&items, threads, |&i, _: &mut ()| {
                started.fetch_add(1, Ordering::SeqCst);
                if i == 0 {
                    std::thread::sleep(std::time::Duration::from_millis(30));
                    during_first.store(started.load(Ordering::SeqCst), Ordering::SeqCst);
                }
                i
            });
            assert_eq!(got, items);
            let n = during_first.load(Ordering::SeqCst);
            assert!(n <= WINDOW + threads, "{n} items started while item 0 ran");
        }
    }

    #[test]
    fn the_first_failure_in_order_stops_the_rest() {
        let items: Vec<u32> = (0..1000).collect();
        for threads in [1, 2, 4] {
            let started = AtomicUsize::new(0);
            let mut seen = Vec::new();
            let r = for_each_in_order(
                &items,
                threads,
                |&i, _: &mut ()| {
                    started.fetch_add(1, Ordering::Relaxed);
                    if i == 5 || i == 3 {
                        // Item 5 fails fast, item 3 slowly: 3 is still
                        // the error, as it comes first.
                        if i == 3 {
                            std::thread::sleep(std::time::Duration::from_millis(5));
                        }
                        Err(i)
                    } else {
                        Ok(i)
                    }
                },
                |r| {
                    seen.push(r?);
                    Ok(())
                },
            );
            assert_eq!(r, Err::<(), u32>(3));
            assert_eq!(seen, [0, 1, 2]);
            if threads == 1 {
                // On more threads, how far the others got is up to timing.
                assert_eq!(started.load(Ordering::Relaxed), 4);
            }
        }
    }
}
