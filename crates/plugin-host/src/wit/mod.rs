//! The plugin interface, one module of bindings per WIT version the host serves, and the
//! dispatch over them: the host loads, instantiates and calls every plugin through
//! [`PluginPre`] and [`PluginInstance`], whatever version it was built against.
//!
//! A new version of `plugins/wit` is an addition: its own module of bindings and
//! conversions (`since_v2_0.rs`), a variant in each enum below, and an entry in
//! [`BINDINGS`]. Plugins built against an older version keep loading.

use std::fmt;

use tenancy_domain::access::{GrantDecision, GrantRequest};
use tenancy_domain::plan::Plan;
use tenancy_domain::tenant::Tenant;
use wasmtime::Store;
use wasmtime::component::{Component, InstancePre, Linker};

use crate::sandbox::State;

pub(crate) mod since_v1_0;
pub(crate) mod since_v1_1;

/// The WIT package every version of the plugin interface belongs to.
pub const PACKAGE: &str = "tenancy:plugin";
/// The world a plugin exports, in every version.
pub const WORLD: &str = "tenant-type";

/// Links a plugin against one version's bindings: fails unless its exports type-check.
type Link = fn(InstancePre<State>) -> wasmtime::Result<PluginPre>;

/// Every version of the interface the host serves, newest first, with its bindings.
const BINDINGS: [(WitVersion, Link); 2] = [
    (since_v1_1::VERSION, |pre| since_v1_1::TenantTypePre::new(pre).map(PluginPre::V1_1)),
    (since_v1_0::VERSION, |pre| since_v1_0::TenantTypePre::new(pre).map(PluginPre::V1_0)),
];

/// Every version of the interface the host serves, newest first.
pub fn supported_versions() -> impl Iterator<Item = WitVersion> {
    BINDINGS.into_iter().map(|(version, _)| version)
}

/// A version of the `tenancy:plugin` package, as its WIT declares it (`major.minor.patch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WitVersion {
    /// Changes when the interface does, incompatibly.
    pub major: u32,
    /// Changes when something is added.
    pub minor: u32,
    /// Changes for anything else.
    pub patch: u32,
}

impl WitVersion {
    /// The version `major.minor.patch`.
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self { major, minor, patch }
    }

    /// `1.2.3` as a version; `None` for anything else (pre-release tags included).
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('.').map(|part| part.parse::<u32>().ok());
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(Some(major)), Some(Some(minor)), Some(Some(patch)), None) => Some(Self::new(major, minor, patch)),
            _ => None,
        }
    }

    /// Whether bindings generated from this version serve a plugin built against
    /// `declared`: same major version, and nothing newer than what the bindings know
    /// (wasmtime's linker lets a newer minor definition satisfy an older import).
    fn serves(self, declared: WitVersion) -> bool {
        self.major == declared.major && declared <= self
    }
}

impl fmt::Display for WitVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The packages a plugin may be built against, for messages: `tenancy:plugin@1.0.0`, or
/// several joined with "or".
pub fn supported_packages() -> String {
    supported_versions().map(|version| format!("{PACKAGE}@{version}")).collect::<Vec<_>>().join(" or ")
}

/// Offers plugins the host's interfaces of every supported version.
pub(crate) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    since_v1_0::add_to_linker(linker)?;
    since_v1_1::add_to_linker(linker)
}

/// The version of `tenancy:plugin` a component was built against: that of the package's
/// interfaces it imports (every plugin imports `types`, where its hooks' records live).
/// `None` when it imports none of them; an error when it imports several versions.
fn declared_version(component: &Component) -> Result<Option<WitVersion>, String> {
    let engine = component.engine();
    let prefix = format!("{PACKAGE}/");
    let mut declared = None;
    for (name, _) in component.component_type().imports(engine) {
        let Some(interface) = name.strip_prefix(&prefix) else { continue };
        let version = interface
            .split_once('@')
            .and_then(|(_, version)| WitVersion::parse(version))
            .ok_or_else(|| format!("imports {name}, which names no version"))?;
        match declared {
            Some(other) if other != version => {
                return Err(format!("imports both {PACKAGE}@{other} and {PACKAGE}@{version}"));
            }
            _ => declared = Some(version),
        }
    }
    Ok(declared)
}

/// The bindings a component built against `declared` (`None`: it imports no version) may
/// be called through, in the order they are tried: oldest first.
fn candidates(declared: Option<WitVersion>) -> impl Iterator<Item = (WitVersion, Link)> {
    BINDINGS.into_iter().rev().filter(move |(version, _)| declared.is_none_or(|declared| version.serves(declared)))
}

/// A plugin linked against the bindings of the version it was built against, ready to
/// instantiate.
pub(crate) enum PluginPre {
    V1_0(since_v1_0::TenantTypePre<State>),
    V1_1(since_v1_1::TenantTypePre<State>),
}

impl PluginPre {
    /// Links `component` against the bindings of the oldest supported version that serves
    /// the version it imports (its own, when the host has it: what the plugin is passed
    /// depends on the version it was built against); its exports must then type-check. A
    /// component importing no version is tried against each, oldest first, so that it is
    /// never passed what an older version does not document.
    pub(crate) fn new(linker: &Linker<State>, component: &Component) -> wasmtime::Result<Self> {
        let declared = declared_version(component).map_err(wasmtime::Error::msg)?;
        let mut candidates = candidates(declared).peekable();
        if let (Some(declared), None) = (declared, candidates.peek()) {
            return Err(wasmtime::Error::msg(format!("built against {PACKAGE}@{declared}")));
        }
        let pre = linker.instantiate_pre(component)?;
        let mut first_error = None;
        for (_, link) in candidates {
            match link(pre.clone()) {
                Ok(linked) => return Ok(linked),
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        Err(first_error.expect("at least one candidate was tried"))
    }

    /// The version whose bindings the plugin is called through.
    pub(crate) fn version(&self) -> WitVersion {
        match self {
            Self::V1_0(_) => since_v1_0::VERSION,
            Self::V1_1(_) => since_v1_1::VERSION,
        }
    }

    /// A fresh instance in `store`.
    pub(crate) fn instantiate(&self, store: &mut Store<State>) -> wasmtime::Result<PluginInstance> {
        Ok(match self {
            Self::V1_0(pre) => PluginInstance::V1_0(pre.instantiate(store)?),
            Self::V1_1(pre) => PluginInstance::V1_1(pre.instantiate(store)?),
        })
    }
}

/// An instance of a plugin, called in the types of its version and answering in the
/// domain's.
pub(crate) enum PluginInstance {
    V1_0(since_v1_0::TenantType),
    V1_1(since_v1_1::TenantType),
}

impl PluginInstance {
    /// `validate`.
    pub(crate) fn call_validate(
        &self,
        store: &mut Store<State>,
        tenant: &Tenant,
    ) -> wasmtime::Result<Result<(), String>> {
        match self {
            Self::V1_0(bindings) => bindings.call_validate(store, &since_v1_0::tenant(tenant)),
            Self::V1_1(bindings) => bindings.call_validate(store, &since_v1_0::tenant(tenant)),
        }
    }

    /// `on-delete`.
    pub(crate) fn call_on_delete(
        &self,
        store: &mut Store<State>,
        tenant: &Tenant,
    ) -> wasmtime::Result<Result<(), String>> {
        match self {
            Self::V1_0(bindings) => bindings.call_on_delete(store, &since_v1_0::tenant(tenant)),
            Self::V1_1(bindings) => bindings.call_on_delete(store, &since_v1_0::tenant(tenant)),
        }
    }

    /// `on-create`.
    pub(crate) fn call_on_create(&self, store: &mut Store<State>, tenant: &Tenant) -> wasmtime::Result<PlanReply> {
        match self {
            Self::V1_0(bindings) => bindings.call_on_create(store, &since_v1_0::tenant(tenant)).map(PlanReply::V1_0),
            // 1.1.0 has 1.0.0's types: its answers are read as 1.0.0's.
            Self::V1_1(bindings) => bindings.call_on_create(store, &since_v1_0::tenant(tenant)).map(PlanReply::V1_0),
        }
    }

    /// `on-grant-access`.
    pub(crate) fn call_on_grant_access(
        &self,
        store: &mut Store<State>,
        tenant: &Tenant,
        grant: &GrantRequest,
    ) -> wasmtime::Result<DecisionReply> {
        match self {
            Self::V1_0(bindings) => bindings
                .call_on_grant_access(store, &since_v1_0::tenant(tenant), &since_v1_0::grant(grant))
                .map(DecisionReply::V1_0),
            Self::V1_1(bindings) => bindings
                .call_on_grant_access(store, &since_v1_0::tenant(tenant), &since_v1_0::grant_since_v1_1(grant))
                .map(DecisionReply::V1_0),
        }
    }
}

/// What `on-create` answered, still in its version's types: its size is counted before it
/// is converted, so that a plan over the output cap is refused without building its
/// domain copy.
pub(crate) enum PlanReply {
    V1_0(Result<since_v1_0::wit::Plan, String>),
}

impl PlanReply {
    /// The bytes the answer carries.
    pub(crate) fn size(&self) -> usize {
        match self {
            Self::V1_0(Ok(plan)) => since_v1_0::plan_size(plan),
            Self::V1_0(Err(message)) => message.len(),
        }
    }

    /// The plan as the domain validates it, or the plugin's refusal.
    pub(crate) fn into_domain(self) -> Result<Plan, String> {
        match self {
            Self::V1_0(answer) => answer.map(since_v1_0::plan),
        }
    }
}

/// What `on-grant-access` answered, still in its version's types.
pub(crate) enum DecisionReply {
    V1_0(since_v1_0::wit::Decision),
}

impl DecisionReply {
    /// The bytes the answer carries.
    pub(crate) fn size(&self) -> usize {
        match self {
            Self::V1_0(decision) => since_v1_0::decision_size(decision),
        }
    }

    /// The decision as the domain reads it.
    pub(crate) fn into_domain(self) -> GrantDecision {
        match self {
            Self::V1_0(decision) => since_v1_0::decision(decision),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::WitVersion;

    #[test]
    fn versions_parse_from_their_wit_form_and_print_back() {
        assert_eq!(WitVersion::parse("1.0.0"), Some(WitVersion::new(1, 0, 0)));
        assert_eq!(WitVersion::parse("2.13.4").map(|v| v.to_string()).as_deref(), Some("2.13.4"));
        for bad in ["", "1", "1.0", "1.0.0.0", "1.0.0-rc1", "v1.0.0", "1.x.0"] {
            assert_eq!(WitVersion::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_component_is_called_through_the_oldest_bindings_that_serve_it() {
        let tried = |declared| super::candidates(declared).map(|(version, _)| version).collect::<Vec<_>>();
        let (v1_0, v1_1) = (WitVersion::new(1, 0, 0), WitVersion::new(1, 1, 0));
        assert_eq!(tried(Some(v1_0)), [v1_0, v1_1], "its own first: a 1.0.0 plugin is never passed `user`");
        assert_eq!(tried(Some(v1_1)), [v1_1]);
        assert_eq!(tried(None), [v1_0, v1_1], "naming no version, it is given what 1.0.0 documents");
        assert_eq!(tried(Some(WitVersion::new(1, 2, 0))), []);
        assert_eq!(tried(Some(WitVersion::new(2, 0, 0))), []);
    }

    #[test]
    fn bindings_serve_their_own_major_version_up_to_their_own() {
        let bindings = WitVersion::new(1, 2, 0);
        assert!(bindings.serves(WitVersion::new(1, 0, 0)));
        assert!(bindings.serves(WitVersion::new(1, 2, 0)));
        assert!(!bindings.serves(WitVersion::new(1, 3, 0)), "newer than the bindings know");
        assert!(!bindings.serves(WitVersion::new(2, 0, 0)));
        assert!(!bindings.serves(WitVersion::new(0, 9, 0)));
    }
}
