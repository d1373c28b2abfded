//! The `tenancy` command's library: the local runner used by `make dev` and by the
//! integration tests, which run exactly what a developer runs.

pub mod args;
pub mod dev;
pub mod emulator;
pub mod jwt;
pub mod plugin_run;
