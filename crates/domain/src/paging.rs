//! Pages of listings: what a caller asks for and what a store answers.

/// A page request: at most `limit` items, after the position an earlier page's cursor names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Most items to return.
    pub limit: u32,
    /// Opaque cursor from the previous page.
    pub cursor: Option<String>,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    /// The items, in name order.
    pub items: Vec<T>,
    /// Present when more items follow.
    pub next_cursor: Option<String>,
}
