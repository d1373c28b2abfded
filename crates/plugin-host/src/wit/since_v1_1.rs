//! `tenancy:plugin@1.1.0` (`plugins/wit/v1.1`): the same types as 1.0.0 (its bindings reuse
//! 1.0.0's, so the conversions are 1.0.0's), and a grant's `level` may be `user`.

use wasmtime::component::{HasSelf, Linker};

use super::WitVersion;
use crate::sandbox::State;

/// Generated in a module of their own, with the `types` interface mapped onto 1.0.0's
/// Rust types: 1.1.0 changed no type, only what a grant's `level` may hold.
mod bindings {
    wasmtime::component::bindgen!({
        path: "../../plugins/wit/v1.1",
        world: "tenant-type",
        with: { "tenancy:plugin/types": crate::wit::since_v1_0::bindings::tenancy::plugin::types },
    });
}

pub(crate) use bindings::{TenantType, TenantTypePre};

/// The version of the package these bindings were generated from: the `package` line of
/// `plugins/wit/v1.1/plugin.wit`.
pub(crate) const VERSION: WitVersion = WitVersion::new(1, 1, 0);

/// Offers plugins of this version the `host` interface.
pub(crate) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    TenantType::add_to_linker::<State, HasSelf<State>>(linker, |state| state)
}

impl bindings::tenancy::plugin::host::Host for State {
    fn log(&mut self, message: String) {
        self.append_log(&message);
    }
}
