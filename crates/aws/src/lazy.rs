//! Clients built when first used, not when a function starts.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, LazyLock};

/// How a [`LazyClient`] is made.
type Build<C> = Box<dyn FnOnce() -> C + Send>;

/// An AWS client built the first time a call needs it, once, and shared by every clone.
///
/// Building a service client costs a cold start milliseconds (its runtime plugins,
/// endpoint resolver and partitions, HTTPS client), and most first events need one client
/// or none: `GET /healthz`, an event the lifecycle ignores, a request the authorizer
/// refuses. Concurrent first uses wait for one build. It dereferences to the client, so
/// an adapter calls `self.client.put_item()` as it would on the client itself.
pub struct LazyClient<C>(Arc<LazyLock<C, Build<C>>>);

impl<C> LazyClient<C> {
    /// A client that `build` makes on first use.
    ///
    /// Should `build` panic (the SDK panics on a configuration it cannot run with), the
    /// process exits: a poisoned client would fail every later request of a warm
    /// environment that still answers `GET /healthz`, where a new one, which Lambda starts
    /// in its place, can at least be seen failing at its first request.
    pub fn new(build: impl FnOnce() -> C + Send + 'static) -> Self {
        let build = move || match std::panic::catch_unwind(std::panic::AssertUnwindSafe(build)) {
            Ok(client) => client,
            Err(_) => {
                tracing::error!(client = std::any::type_name::<C>(), "an AWS client could not be built: exiting");
                std::process::exit(70)
            }
        };
        Self(Arc::new(LazyLock::new(Box::new(build))))
    }
}

/// A client already built (tests, the local setup).
impl<C: Send + 'static> From<C> for LazyClient<C> {
    fn from(client: C) -> Self {
        Self::new(move || client)
    }
}

impl<C> Deref for LazyClient<C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.0
    }
}

impl<C> Clone for LazyClient<C> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<C> fmt::Debug for LazyClient<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyClient").field("client", &std::any::type_name::<C>()).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn a_client_is_built_on_first_use_once_for_every_clone() {
        let builds = Arc::new(AtomicUsize::new(0));
        let counted = builds.clone();
        let client = LazyClient::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            String::from("client")
        });
        let clone = client.clone();
        assert_eq!(builds.load(Ordering::SeqCst), 0, "nothing is built before a call needs it");
        assert_eq!(clone.len(), 6);
        assert_eq!(*client, "client");
        assert_eq!(builds.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn concurrent_first_uses_wait_for_one_build() {
        let builds = Arc::new(AtomicUsize::new(0));
        let counted = builds.clone();
        let client = LazyClient::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(20));
            7_u32
        });
        let threads: Vec<_> = (0..8)
            .map(|_| {
                std::thread::spawn({
                    let client = client.clone();
                    move || *client
                })
            })
            .collect();
        for thread in threads {
            assert_eq!(thread.join().unwrap(), 7);
        }
        assert_eq!(builds.load(Ordering::SeqCst), 1);
    }
}
