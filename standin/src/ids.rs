//! Seeded (or random) ids, secrets and request ids, and the clock that stamps objects.

use std::time::{SystemTime, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

/// Start of the deterministic clock used with `--seed` (2026-01-01T00:00:00Z).
pub(crate) const SEEDED_EPOCH: i64 = 1_767_225_600;

/// Random (or seeded) generator of object ids, secrets and request ids.
///
/// Request ids use their own stream so that object ids only depend on the
/// objects created, not on how many requests (retries, reads) happened.
pub(crate) struct IdGen {
    pub(crate) objects: StdRng,
    pub(crate) requests: StdRng,
}

impl IdGen {
    pub(crate) fn new(seed: Option<u64>) -> Self {
        match seed {
            Some(seed) => Self {
                objects: StdRng::seed_from_u64(seed),
                requests: StdRng::seed_from_u64(seed ^ 0x5eed_5eed_5eed_5eed),
            },
            None => Self {
                objects: StdRng::from_os_rng(),
                requests: StdRng::from_os_rng(),
            },
        }
    }

    pub(crate) fn alphanumeric(rng: &mut StdRng, len: usize) -> String {
        (0..len)
            .map(|_| char::from(rng.sample(rand::distr::Alphanumeric)))
            .collect()
    }

    /// An object id such as `pi_` + 24 alphanumerics.
    pub(crate) fn object_id(&mut self, prefix: &str) -> String {
        format!("{prefix}_{}", Self::alphanumeric(&mut self.objects, 24))
    }

    /// A PaymentIntent client secret.
    pub(crate) fn client_secret(&mut self, intent_id: &str) -> String {
        format!("{intent_id}_secret_{}", Self::alphanumeric(&mut self.objects, 25))
    }

    /// A `Request-Id` value.
    pub(crate) fn request_id(&mut self) -> String {
        format!("req_{}", Self::alphanumeric(&mut self.requests, 14))
    }
}

/// Wall clock, or a fixed clock that ticks once per created object.
pub(crate) enum Clock {
    Real,
    Fixed { now: i64 },
}

impl Clock {
    pub(crate) fn new(seed: Option<u64>) -> Self {
        match seed {
            Some(_) => Clock::Fixed { now: SEEDED_EPOCH },
            None => Clock::Real,
        }
    }

    /// The current Unix time.
    pub(crate) fn now(&self) -> i64 {
        match self {
            Clock::Fixed { now } => *now,
            Clock::Real => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or(0),
        }
    }

    /// The creation time of a new object (advances the fixed clock).
    pub(crate) fn stamp(&mut self) -> i64 {
        let now = self.now();
        if let Clock::Fixed { now } = self {
            *now += 1;
        }
        now
    }
}
