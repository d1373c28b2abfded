//! SHA-256 digests: of plugin binaries and artifacts, and of the engine's compatibility
//! hash.

#[cfg(feature = "compiler")]
use std::hash::{Hash, Hasher};

use sha2::{Digest, Sha256};

/// The hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// `bytes` in lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of what `value`'s `Hash` implementation writes, so that a key made of it
/// does not depend on the standard library's hasher.
#[cfg(feature = "compiler")]
pub(crate) fn sha256_of_hash(value: &impl Hash) -> [u8; 32] {
    let mut hasher = Sha256Hasher(Sha256::new());
    value.hash(&mut hasher);
    hasher.0.finalize().into()
}

/// Feeds what a `Hash` implementation writes into SHA-256.
#[cfg(feature = "compiler")]
struct Sha256Hasher(Sha256);

#[cfg(feature = "compiler")]
impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().expect("eight bytes"))
    }
}
