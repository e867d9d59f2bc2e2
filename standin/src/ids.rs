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
    /// Ids and secrets of every resource other than PaymentIntents (and of
    /// events), so that a session using only PaymentIntents draws exactly the
    /// `objects` stream it always did.
    pub(crate) others: StdRng,
}

impl IdGen {
    pub(crate) fn new(seed: Option<u64>) -> Self {
        match seed {
            Some(seed) => Self {
                objects: StdRng::seed_from_u64(seed),
                requests: StdRng::seed_from_u64(seed ^ 0x5eed_5eed_5eed_5eed),
                others: StdRng::seed_from_u64(seed ^ 0x0e7e_0e7e_0e7e_0e7e),
            },
            None => Self {
                objects: StdRng::from_os_rng(),
                requests: StdRng::from_os_rng(),
                others: StdRng::from_os_rng(),
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

    /// An id such as `cus_` + 24 alphanumerics, from the stream of
    /// resources other than PaymentIntents.
    pub(crate) fn other_id(&mut self, prefix: &str) -> String {
        self.other_id_len(prefix, 24)
    }

    /// An id or secret `prefix` + `_` + `len` alphanumerics (other resources' stream).
    pub(crate) fn other_id_len(&mut self, prefix: &str, len: usize) -> String {
        format!("{prefix}_{}", Self::alphanumeric(&mut self.others, len))
    }

    /// `len` alphanumerics from the stream of other resources.
    pub(crate) fn other_token(&mut self, len: usize) -> String {
        Self::alphanumeric(&mut self.others, len)
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

/// A stable, non-secret fingerprint of a card number (16 alphanumerics), the
/// same for the same number as Stripe's is within one account; draws no randomness.
pub(crate) fn fingerprint(number: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    (0..16)
        .map(|round: u64| {
            for byte in number.bytes().chain(round.to_le_bytes()) {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
            let index = usize::try_from(hash % 62).unwrap_or(0);
            char::from(ALPHABET.get(index).copied().unwrap_or(b'0'))
        })
        .collect()
}

/// A Unix time as RFC 3339 with milliseconds (`2026-01-01T00:00:00.000Z`), as Stripe's v2 API writes times.
pub(crate) fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.000Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_of_the_seeded_epoch() {
        assert_eq!(rfc3339(SEEDED_EPOCH), "2026-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(SEEDED_EPOCH + 86_400 * 59 + 3661), "2026-03-01T01:01:01.000Z");
    }

    #[test]
    fn fingerprints_are_stable_per_number() {
        assert_eq!(fingerprint("4242424242424242"), fingerprint("4242424242424242"));
        assert_ne!(fingerprint("4242424242424242"), fingerprint("5555555555554444"));
        assert_eq!(fingerprint("4242").len(), 16);
    }
}
