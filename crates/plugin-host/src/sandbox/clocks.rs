//! Clocks that give plugins no real time: a plugin's answer must not depend on when it
//! runs, and time is a side channel.

use std::time::Duration;

use wasmtime_wasi::{HostMonotonicClock, HostWallClock};

/// A clock stuck at 2026-01-01T00:00:00Z: plugins get no real time.
pub(super) struct FixedWallClock;

impl HostWallClock for FixedWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        Duration::from_secs(1_767_225_600)
    }
}

/// A monotonic clock that never moves.
pub(super) struct FixedMonotonicClock;

impl HostMonotonicClock for FixedMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }

    fn now(&self) -> u64 {
        0
    }
}
