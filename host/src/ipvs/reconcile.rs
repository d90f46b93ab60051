//! Keeps the kernel's table equal to the desired one: read, diff, write
//! only the differences.
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

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::client::{Client, Counters};
use super::{IpvsError, Op, ServiceKey, Table, plan};

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
}

impl Reconciler {
    pub fn new(client: Client) -> Reconciler {
        Reconciler {
            client,
            owned: HashSet::new(),
        }
    }

    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Keys currently considered ours.
    pub fn owned(&self) -> impl Iterator<Item = &ServiceKey> {
        self.owned.iter()
    }

    /// Makes the kernel match `desired` for every owned key. A refused op
    /// caused by a concurrent change (exists / does not exist) triggers
    /// one fresh read and retry; other refusals are reported.
    pub fn apply(&mut self, desired: &Table) -> Result<Outcome, IpvsError> {
        self.owned.extend(desired.services.keys().copied());
        self.run(desired)
    }

    /// Deletes every owned service (shutdown, or all withdrawn).
    pub fn withdraw(&mut self) -> Result<Outcome, IpvsError> {
        self.run(&Table::new())
    }

    fn run(&mut self, desired: &Table) -> Result<Outcome, IpvsError> {
        let start = Instant::now();
        let before = self.client.counters();
        let mut outcome = Outcome::default();
        for pass in 0..2 {
            let owned = &self.owned;
            let actual = self.client.read_table(|k| owned.contains(k))?;
            let ops = plan(desired, &actual, |k| owned.contains(k));
            // Owned keys that are neither desired nor present are done with.
            self.owned
                .retain(|k| desired.services.contains_key(k) || actual.services.contains_key(k));
            if ops.is_empty() {
                break;
            }
            let errors = self.client.apply(&ops)?;
            let failed: HashSet<usize> = errors.0.iter().map(|(i, _)| *i).collect();
            for (i, op) in ops.iter().enumerate() {
                if let Op::DelService(k) = op
                    && !failed.contains(&i)
                {
                    self.owned.remove(k);
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
