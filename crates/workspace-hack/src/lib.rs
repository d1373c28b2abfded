//! No code. See `Cargo.toml`: this crate's dependencies exist only for their features, so
//! that the functions, built alone, share the workspace's compiled dependencies.
