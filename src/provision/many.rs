//! Tenants in flight: a bulk `add-user` provisions several at once
//! (`--jobs`), each over its own keep-alive connection, so one tenant's
//! round trips overlap another's file syncs — and prints what one after
//! the other would print (docs/ARCHITECTURE.md, "From argv to files and
//! Vault").

use super::tenant::{self, Plan, TenantReport};
use crate::error::Result;
use crate::store::Shared;

/// What a run of tenants in flight tells its caller, in plan order.
pub enum Told<'a> {
    /// A tenant's step, as `NAME: what changed`.
    Line(String),
    /// The earliest unfinished tenant finished; `next` is the one after it.
    Finished { next: Option<&'a str> },
}

/// Each plan provisioned, `jobs` at a time, started in plan order; after
/// a failure no other is started (those under way finish). What each
/// tenant's steps tell goes to `tell` as one after the other would tell
/// it: the earliest unfinished tenant's lines as they happen, a later
/// one's once every tenant before it has finished. The results are in
/// plan order, `None` for a tenant not tried.
pub fn provision_all(
    client: &crate::vault::Client,
    ca: &crate::pki::Ca,
    shared: &Shared<'_>,
    plans: &[Plan],
    jobs: usize,
    tell: &(dyn Fn(Told<'_>) + Sync),
) -> Vec<Option<Result<TenantReport>>> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    /// Where the telling stands: `head` is the earliest unfinished plan.
    struct Progress {
        head: usize,
        held: Vec<Vec<String>>,
        results: Vec<Option<Result<TenantReport>>>,
    }
    let progress = Mutex::new(Progress {
        head: 0,
        held: plans.iter().map(|_| Vec::new()).collect(),
        results: plans.iter().map(|_| None).collect(),
    });
    let lock = || progress.lock().unwrap_or_else(|e| e.into_inner());
    let (next, stop) = (AtomicUsize::new(0), AtomicBool::new(false));
    let work = || {
        while !stop.load(Ordering::SeqCst) {
            let i = next.fetch_add(1, Ordering::SeqCst);
            let Some(plan) = plans.get(i) else { break };
            let name = plan.name.as_str();
            let mut observe = |o: &super::Outcome| {
                let line = format!("{name}: {}", o.text);
                let mut t = lock();
                match t.head == i {
                    true => tell(Told::Line(line)),
                    false => t.held[i].push(line),
                }
            };
            let result = tenant::provision(client, ca, shared, plan, &mut observe);
            if result.is_err() {
                stop.store(true, Ordering::SeqCst);
            }
            let mut t = lock();
            t.results[i] = Some(result);
            // The finished ones at the head go; the next one's held lines
            // are printed and from then on it prints its own.
            while t.results.get(t.head).is_some_and(Option::is_some) {
                t.head += 1;
                let head = t.head;
                tell(Told::Finished {
                    next: plans.get(head).map(|p| p.name.as_str()),
                });
                if let Some(lines) = t.held.get_mut(head) {
                    std::mem::take(lines)
                        .into_iter()
                        .for_each(|l| tell(Told::Line(l)));
                }
            }
        }
    };
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, plans.len().max(1)) {
            s.spawn(work);
        }
    });
    progress
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .results
}
