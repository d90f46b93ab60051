//! Keeps the kernel's table equal to the desired one: read, diff, write
//! only the differences.
//!
//! Reading: the service list is read on every apply; destinations are read
//! for services whose desired state changed or whose kernel attributes
//! differ, and for all of them on [`Reconciler::resync`] (the engine does
//! that periodically). So an unchanged table costs one dump, while drift
//! inside an unchanged service is repaired at the next resync.
//!
//! Ownership: a service is belay's when its key (protocol + address + port,
//! or fwmark + family) is in a desired table this reconciler has been
//! given. A key stays owned after it leaves the desired table until its
//! deletion succeeds, so a virtual server removed from the config (or
//! withdrawn because its VRRP instance stopped being master) is cleaned up.
//! Everything under an owned service — scheduler, flags, destinations — is
//! belay's and converges to the desired state; any other service is never
//! written, and its destinations are not even read. After a restart only
//! configured keys are owned; a service left by an earlier config stays.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use super::client::{Client, Counters};
use super::plan::plan_with;
use super::{IpvsError, Op, Service, ServiceKey, Table, VirtualService};

/// What one reconcile did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The ops sent (all passes).
    pub ops: Vec<Op>,
    /// Ops the kernel refused, with why.
    pub errors: Vec<(Op, IpvsError)>,
    /// Netlink traffic of this reconcile; `counters.writes == 0` means the
    /// kernel already matched.
    pub counters: Counters,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
    }
}

pub struct Reconciler {
    client: Client,
    owned: HashSet<ServiceKey>,
    /// Per service, what the kernel held after our last clean write or
    /// full read: lets [`Reconciler::apply`] skip re-reading destinations
    /// of services whose desired state has not changed.
    synced: HashMap<ServiceKey, VirtualService>,
}

impl Reconciler {
    pub fn new(client: Client) -> Reconciler {
        Reconciler {
            client,
            owned: HashSet::new(),
            synced: HashMap::new(),
        }
    }

    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Keys currently considered ours.
    pub fn owned(&self) -> impl Iterator<Item = &ServiceKey> {
        self.owned.iter()
    }

    /// Makes the kernel match `desired` for every owned key.
    ///
    /// The list of services is always read back. Destinations are read for
    /// every service whose desired state changed since it was last in sync
    /// or whose kernel attributes differ; an unchanged service's
    /// destinations are trusted to be as last written (a periodic
    /// [`Reconciler::resync`] re-reads them all). A refused op caused by a
    /// concurrent change (exists / does not exist) triggers one full
    /// re-read and retry; other refusals are reported.
    pub fn apply(&mut self, desired: &Table) -> Result<Outcome, IpvsError> {
        self.owned.extend(desired.services.keys().copied());
        self.run(desired, false)
    }

    /// Like [`Reconciler::apply`], but reads every destination back, so
    /// changes made behind belay's back are repaired.
    pub fn resync(&mut self, desired: &Table) -> Result<Outcome, IpvsError> {
        self.owned.extend(desired.services.keys().copied());
        self.run(desired, true)
    }

    /// Deletes every owned service (shutdown, or all withdrawn).
    pub fn withdraw(&mut self) -> Result<Outcome, IpvsError> {
        self.run(&Table::new(), true)
    }

    /// The kernel's view of the owned services — service attributes
    /// always fresh, destinations read where they may differ from
    /// `desired` — and the keys known to be in sync (listed without
    /// destinations: nothing to compare or copy for them).
    fn read_actual(
        &mut self,
        desired: &Table,
        full: bool,
    ) -> Result<(Table, HashSet<ServiceKey>), IpvsError> {
        let owned = &self.owned;
        let kernel: Vec<Service> = self
            .client
            .services()?
            .into_iter()
            .filter(|s| owned.contains(&s.key))
            .collect();
        let synced = &self.synced;
        let in_sync: HashSet<ServiceKey> = kernel
            .iter()
            .filter(|svc| {
                !full
                    && desired.get(&svc.key).is_some_and(|want| {
                        want.service == **svc && synced.get(&svc.key) == Some(want)
                    })
            })
            .map(|s| s.key)
            .collect();
        let to_read: Vec<ServiceKey> = kernel
            .iter()
            .map(|s| s.key)
            .filter(|k| desired.get(k).is_some() && !in_sync.contains(k))
            .collect();
        let mut read = self.client.read_dests(&to_read)?.into_iter();
        let mut actual = Table::new();
        for svc in kernel {
            let mut vs = VirtualService::new(svc);
            // Services going away are not read: their destinations do not matter.
            let key = vs.service.key;
            if desired.get(&key).is_some() && !in_sync.contains(&key) {
                vs.dests = read
                    .next()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|d| (d.addr, d))
                    .collect();
            }
            actual.insert(vs);
        }
        Ok((actual, in_sync))
    }

    fn run(&mut self, desired: &Table, full: bool) -> Result<Outcome, IpvsError> {
        let start = Instant::now();
        let before = self.client.counters();
        let mut outcome = Outcome::default();
        for pass in 0..2 {
            let (actual, in_sync) = self.read_actual(desired, full || pass > 0)?;
            let owned = &self.owned;
            let ops = plan_with(
                desired,
                &actual,
                |k| owned.contains(k),
                |k| in_sync.contains(k),
            );
            // Owned keys that are neither desired nor present are done with.
            self.owned
                .retain(|k| desired.services.contains_key(k) || actual.services.contains_key(k));
            let errors = if ops.is_empty() {
                Default::default()
            } else {
                self.client.apply(&ops)?
            };
            let failed: HashSet<usize> = errors.0.iter().map(|(i, _)| *i).collect();
            let mut dirty: HashSet<ServiceKey> = HashSet::new();
            for (i, op) in ops.iter().enumerate() {
                if failed.contains(&i) {
                    dirty.insert(op.service_key());
                } else if let Op::DelService(k) = op {
                    self.owned.remove(k);
                }
            }
            // What is in sync now: every desired service without a failure.
            self.synced.retain(|k, _| desired.services.contains_key(k));
            for (k, want) in &desired.services {
                if dirty.contains(k) {
                    self.synced.remove(k);
                } else if self.synced.get(k) != Some(want) {
                    self.synced.insert(*k, want.clone());
                }
            }
            let retry = pass == 0 && errors.0.iter().any(|(_, e)| e.is_stale_view());
            let mut errs: Vec<(Op, IpvsError)> = errors
                .0
                .into_iter()
                .map(|(i, e)| (ops[i].clone(), e))
                .collect();
            outcome.ops.extend(ops);
            if retry {
                tracing::debug!(
                    errors = errs.len(),
                    "IPVS table changed under us; reading it again"
                );
                continue;
            }
            outcome.errors.append(&mut errs);
            break;
        }
        outcome.counters = self.client.counters().since(&before);
        outcome.elapsed = start.elapsed();
        Ok(outcome)
    }
}
